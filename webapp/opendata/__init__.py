"""Open data: aggregate application figures for the public, with small counts withheld."""
