"""evac-reader: the desk-side card reader program of evac.

It reads the 基本4情報 (name, address, birth date, sex) from a My Number card's 券面事項入力補助AP,
or the UID (FeliCa IDm) of an IC card, and hands the read to the desk: printed as one JSON object
(`evac-reader read --once --json`) or posted to the evac server it is paired with
(`evac-reader pair`, `evac-reader run`).

This package imports neither Flask nor `evac`, and evac never imports it: it runs on the desk PC,
not on the server.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
