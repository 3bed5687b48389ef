"""Wire formats: the marshmallow schemas that define every JSON form, used by every door."""
