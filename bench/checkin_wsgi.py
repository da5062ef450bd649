"""The evac app plus one trivial endpoint, for bench/checkin.py to serve with gunicorn."""

from evac import create_app

app = create_app()


@app.get("/bench/trivial")
def trivial() -> tuple[str, int]:
    """The baseline: Flask's own cost per request on the same server, nothing of evac's."""
    return "ok", 200
