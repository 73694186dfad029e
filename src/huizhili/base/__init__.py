"""The digital base (数字底座): areas, buildings, land, facilities and devices of a district."""
