"""Printables: resident QR cards, shelter posters, blank evacuee cards and roster printouts as PDF.

Plain data in (the dataclasses of each module), PDF bytes or a stream out. Imports neither Flask nor
`evac`: evac gathers the data and calls these. Every PDF embeds the Japanese font as subsets
(see `printables.fonts` for where the font comes from and ``EVAC_FONT_PATH``).
"""

from printables.cards import (
                              A_ONE_51002,
                              CardData,
                              CardOptions,
                              RenderReport,
                              SheetLayout,
                              TextIssue,
                              render_cards,
                              write_card_sheets,
)
from printables.evacuee_card import EvacueeCardForm, render_evacuee_cards
from printables.fonts import FontNotFound, load_font
from printables.poster import ShelterPoster, render_poster, render_posters
from printables.roster import RosterHeader, RosterRow, render_roster

__all__ = [
    "A_ONE_51002", "CardData", "CardOptions", "EvacueeCardForm", "FontNotFound", "RenderReport", "RosterHeader",
    "RosterRow", "SheetLayout", "ShelterPoster", "TextIssue", "load_font", "render_cards", "render_evacuee_cards",
    "render_poster", "render_posters", "render_roster", "write_card_sheets",
]
