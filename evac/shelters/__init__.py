"""Shelters: the places evacuees stay, imported from GSI and 自治体標準オープンデータ files."""
