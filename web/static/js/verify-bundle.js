// Verify a lot's proof bundle on this device with WebCrypto (see docs/FORMAT.md).
// Checks every entry's hash, its Ed25519 signatures and its inclusion in the signed
// checkpoint, the checkpoint's signature and origin by the operator key embedded in the
// page, and that each lot's entries link one to the next (lot_prev): none left out.
// It says "verified on this device" only when all of that passed here.
(function () {
  "use strict";
  var box = document.getElementById("device-verification");
  if (!box || !window.crypto || !window.crypto.subtle || !window.TextEncoder) { return; }
  var enc = new TextEncoder();
  var subtle = window.crypto.subtle;

  function say(text, state) {
    box.textContent = text;
    box.className = "device device-" + state;
  }
  function concat(parts) {
    var size = parts.reduce(function (n, p) { return n + p.length; }, 0);
    var out = new Uint8Array(size), at = 0;
    parts.forEach(function (p) { out.set(p, at); at += p.length; });
    return out;
  }
  function hex(bytes) {
    return Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }
  function unhex(text) {
    var out = new Uint8Array(text.length / 2);
    for (var i = 0; i < out.length; i++) { out[i] = parseInt(text.substr(i * 2, 2), 16); }
    return out;
  }
  function unb64(text) {
    var raw = atob(text), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out;
  }
  async function sha256(bytes) { return new Uint8Array(await subtle.digest("SHA-256", bytes)); }
  function equal(a, b) {
    if (a.length !== b.length) { return false; }
    var d = 0;
    for (var i = 0; i < a.length; i++) { d |= a[i] ^ b[i]; }
    return d === 0;
  }
  // RFC 8785 for the values Trilha signs: JS sorts strings by UTF-16 code units and
  // JSON.stringify writes numbers and strings the way JCS prescribes.
  function jcs(value) {
    if (Array.isArray(value)) { return "[" + value.map(jcs).join(",") + "]"; }
    if (value !== null && typeof value === "object") {
      return "{" + Object.keys(value).sort().map(function (k) {
        return JSON.stringify(k) + ":" + jcs(value[k]);
      }).join(",") + "}";
    }
    return JSON.stringify(value);
  }
  var PREFIX = {
    entry: enc.encode("trilha-entry-v1\0"), event: enc.encode("trilha-event-v1\0"),
    signature: enc.encode("trilha-event-signature-v1\0")
  };
  async function ed25519(publicKey, signature, message) {
    var key = await subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
    return subtle.verify({ name: "Ed25519" }, key, signature, message);
  }
  async function node(left, right) { return sha256(concat([new Uint8Array([1]), left, right])); }
  // RFC 9162 section 2.1.3.2
  async function included(leaf, index, size, proof, root) {
    if (index >= size) { return false; }
    var fn = index, sn = size - 1, r = leaf;
    for (var i = 0; i < proof.length; i++) {
      var p = proof[i];
      if (sn === 0) { return false; }
      if ((fn & 1) || fn === sn) {
        r = await node(p, r);
        while (!(fn & 1) && fn !== 0) { fn >>= 1; sn >>= 1; }
      } else { r = await node(r, p); }
      fn >>= 1; sn >>= 1;
    }
    return sn === 0 && equal(r, root);
  }
  async function checkpointOk(note, vkey) {
    var split = note.lastIndexOf("\n\n");
    var body = note.slice(0, split + 1), parts = vkey.split("+");
    var name = parts[0], keyId = unhex(parts[1]), pub = unb64(parts.slice(2).join("+")).slice(1);
    var lines = note.slice(split + 2).split("\n").filter(Boolean);
    for (var i = 0; i < lines.length; i++) {
      var fields = lines[i].replace(/^\u2014 /, "").split(" ");
      var raw = unb64(fields[1]);
      if (fields[0] === name && equal(raw.slice(0, 4), keyId)) {
        var lines3 = body.split("\n");
        if (lines3[0] !== name) { return null; }  // the origin is the key's name (section 7)
        var ok = await ed25519(pub, raw.slice(4), enc.encode(body));
        return ok ? { size: parseInt(lines3[1], 10), root: unb64(lines3[2]) } : null;
      }
    }
    return null;
  }
  // The lots an event names (FORMAT.md section 3), as the log's lot chains follow them.
  function lotsNamed(event) {
    var b = event.body;
    switch (event.kind) {
      case "lot.harvested": case "lot.dispatched": case "lot.received":
      case "lot.refused": case "lot.adjusted": return [b.lot];
      case "lot.split": return [b.lot].concat(b.children.map(function (c) { return c.lot; }));
      case "lots.merged": return b.lots.concat([b.into]);
      case "lot.transformed":
        return b.inputs.concat(b.outputs.map(function (o) { return o.lot; }));
    }
    return [];
  }
  var own = Object.prototype.hasOwnProperty;
  // FORMAT.md rule lot_chain: a format 2 entry names the newest earlier entry of each
  // lot it touches; one missing from the bundle breaks the link.
  function chainHolds(entry, named, heads) {
    var links = entry.lot_prev;
    if (links === undefined) { return true; }  // format 1: only the hash chain
    for (var i = 0; i < named.length; i++) {
      var head = heads[named[i]], link = own.call(links, named[i]) ? links[named[i]] : null;
      if (head ? !link || link.seq !== head.seq || link.hash !== head.hash : link) {
        return false;
      }
    }
    return Object.keys(links).every(function (lot) { return named.indexOf(lot) >= 0; });
  }
  async function run() {
    var vkey = box.getAttribute("data-operator-vkey");
    try {
      await subtle.importKey("raw", new Uint8Array(32), { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      say(box.getAttribute("data-no-ed25519"), "unsupported");
      return;
    }
    if (!vkey) { say(box.getAttribute("data-no-key"), "unsupported"); return; }
    say(box.getAttribute("data-checking"), "checking");
    var fetched = await fetchBundle(0);
    if (!fetched) { return; }
    var bundle = fetched.bundle;
    var checkpoint = await checkpointOk(bundle.checkpoint, vkey);
    if (!checkpoint) { say(box.getAttribute("data-failed"), "failed"); return; }
    var heads = Object.create(null);
    for (var i = 0; i < bundle.entries.length; i++) {
      var item = bundle.entries[i], raw = enc.encode(item.entry);
      var entry = JSON.parse(item.entry);
      if (jcs(entry) !== item.entry || entry.seq !== item.seq) { return say(box.getAttribute("data-failed"), "failed"); }
      var entryHash = await sha256(concat([PREFIX.entry, raw]));
      var leaf = await sha256(concat([new Uint8Array([0]), entryHash]));
      var proof = item.proof.map(unhex);
      if (!(await included(leaf, item.seq, checkpoint.size, proof, checkpoint.root))) {
        return say(box.getAttribute("data-failed"), "failed");
      }
      var signed = entry.signed_event, named = lotsNamed(signed.event);
      if (!chainHolds(entry, named, heads)) { return say(box.getAttribute("data-failed"), "failed"); }
      named.forEach(function (lot) { heads[lot] = { seq: entry.seq, hash: hex(entryHash) }; });
      var digest = await sha256(concat([PREFIX.event, enc.encode(jcs(signed.event))]));
      var message = concat([PREFIX.signature, digest]);
      for (var s = 0; s < signed.signatures.length; s++) {
        var sig = signed.signatures[s];
        if (!(await ed25519(unb64(sig.public_key), unb64(sig.signature), message))) {
          return say(box.getAttribute("data-failed"), "failed");
        }
      }
    }
    say(box.getAttribute("data-verified").replace("%(n)s", String(bundle.entries.length)),
        "verified");
    if (fetched.waited) { anchored(); }
  }
  // A lot recorded after the latest signed checkpoint has no bundle yet: the server says
  // so (409 awaiting_checkpoint, with a Retry-After) and this page asks again, saying
  // "waiting", never "could NOT verify".
  var MAX_POLLS = 40;
  function sleep(ms) { return new Promise(function (done) { setTimeout(done, ms); }); }
  async function fetchBundle(polls) {
    var response = await fetch(box.getAttribute("data-bundle-url"), { cache: "no-store" });
    if (response.status === 409) {
      var body = null;
      try { body = await response.json(); } catch (e) { body = null; }
      if (body && body.error === "awaiting_checkpoint") {
        if (polls >= MAX_POLLS) { say(box.getAttribute("data-still-waiting"), "waiting"); return null; }
        say(box.getAttribute("data-waiting"), "waiting");
        var after = parseInt(response.headers.get("Retry-After") || "3", 10) || 3;
        await sleep(Math.min(Math.max(after, 1), 10) * 1000);
        return fetchBundle(polls + 1);
      }
    }
    if (!response.ok) { say(box.getAttribute("data-failed"), "failed"); return null; }
    return { bundle: await response.json(), waited: polls > 0 };
  }
  // The server found every entry sound but not yet anchored; this device has now checked
  // them in a signed checkpoint, so the badge may say verified.
  function anchored() {
    var badge = document.getElementById("badge"), note = document.getElementById("badge-waiting-note");
    if (!badge || badge.className.indexOf("badge-waiting") < 0) { return; }
    badge.textContent = badge.getAttribute("data-verified");
    badge.className = "badge badge-verified";
    if (note) { note.parentNode.removeChild(note); }
  }
  run().catch(function () { say(box.getAttribute("data-failed"), "failed"); });
}());
