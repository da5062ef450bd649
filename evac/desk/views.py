"""Desk pages for tablets: choose a shelter, then scan, register walk-ins and keep the roster.

The page talks to the same JSON API as any other client (`/api/v1/checkins`, …) with the
session cookie and the CSRF token; a service worker keeps it usable when the server cannot be
reached, and check-ins made meanwhile wait in IndexedDB until it can.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, make_response, render_template, send_from_directory
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf.csrf import generate_csrf

from evac.accounts.auth import current_account, ensure_shelter_access
from evac.checkin import printouts
from evac.checkin import service as checkin
from evac.shelters import service as shelters

bp = Blueprint("desk", __name__, url_prefix="/desk")


@bp.get("")
@login_required
def choose() -> ResponseReturnValue:
    """List the shelters this account works at, open ones first."""
    page = shelters.list_shelters(current_account().scope(), limit=1000)
    items = sorted(page.items, key=lambda item: (item[0].status.value == "closed", item[0].id))
    return render_template("desk/choose.html", items=items, total=page.total)


def _messages() -> dict[str, str]:
    """Texts the desk's script shows, translated here so the script holds none of its own."""
    return {
        "checkin": _("チェックイン"),
        "resident_open": _("この人の世帯を表示"),
        "resident_none": _("見つかりません。名前の一部やフリガナ、生年月日で探すか、避難者カードで受付してください"),
        "resident_more": _("%(n)s 人まで表示しています。生年月日を入れると絞り込めます"),
        "correct_checkin": _("受付を取り消す（誤登録）"),
        "confirm_correct": _("%(name)s さんの受付を取り消しますか？ 退所ではなく、訂正として記録されます"),
        "yes_correct": _("受付を取り消す"),
        "field_required": _("この項目を入力してください"),
        "kana_only": _("カタカナかひらがなで入力してください"),
        "print_card_of": _("%(name)s さんのQRカードを印刷"),
        "checked_in": _("%(n)s 名を受付しました"),
        "checked_in_names": _("%(names)s の %(n)s 名を受付しました"),
        "name_san": _("%(name)s さん"),
        "name_separator": _("、"),
        "household_of": _("%(name)s さんの世帯"),
        "add_to_household": _("%(name)s さんの世帯に追加"),
        "register_family_new": _("別人として家族を登録する"),
        "household_expires": _("あと %(n)s 秒で自動的に閉じます"),
        "all_checked_in": _("全員受付済み（%(shelter)s・%(time)s 受付）"),
        "since": _("（%(time)s 受付）"),
        "shelter_closed": _("この避難所は閉鎖されています。受付はできません"),
        "already_here": _("すでにこの避難所で受付済みです"),
        "undo_checkin": _("%(names)sの受付を取り消す"),
        "undo_left": _("%(names)sの退所を取り消す"),
        "undo_outing": _("%(names)sの外出を取り消す"),
        "undo_return": _("%(names)sの戻りを取り消す"),
        "undo_transfer": _("%(names)sの移動を取り消す"),
        "undo_whereabouts": _("%(names)sの在宅・車中泊の登録を取り消す"),
        "undone": _("取り消しました"),
        "queued": _("通信できないため受付を保留しました（%(n)s 件待ち）。つながったら自動で送信します"),
        "pending": _("送信待ち %(n)s 件"),
        "sent_pending": _("保留していた受付 %(n)s 件を送信しました"),
        "offline": _("オフライン"),
        "online": _("オンライン"),
        "network_error": _("サーバーにつながりません"),
        "individual_number": _("個人番号（12桁の数字）は受け付けません。入力から削除してください"),
        "here": _("この避難所"),
        "elsewhere": _("他の避難所: %(name)s"),
        "not_checked_in": _("未受付"),
        "present": _("在所"),
        "outing": _("外出中"),
        "at_home": _("在宅避難"),
        "in_car": _("車中泊"),
        "choose_candidate": _("この人で受付"),
        "register_new": _("別の人として新しく登録"),
        "candidates": _("似た人が登録されています。同じ人なら選んでください"),
        "left": _("退所"),
        "go_out": _("外出"),
        "return": _("戻り"),
        "transfer": _("移動"),
        "transfer_to": _("移動先を選んでください"),
        "done": _("完了しました"),
        "no_results": _("該当する人はいません"),
        "select_members": _("来所している人にチェックを入れてください"),
        "print_card": _("この人のQRカードを印刷"),
        "camera_unavailable": _("このブラウザーではカメラを使えません。スキャナーか手入力をお使いください"),
        "link_ic": _("このICカードを登録する人を名簿や検索から選んでください"),
        "confirm_leave": _("退所として記録します。よろしいですか"),
        # The roster (view/roster.js): its header, the 操作 menu and its confirmations.
        "people_total": _("%(n)s 人"),
        "people_shown": _("%(shown)s / %(n)s 人"),
        "more": _("もっと見る"),
        "actions": _("操作"),
        "actions_for": _("%(name)s さんの操作"),
        "move_at_home": _("在宅避難へ"),
        "move_in_car": _("車中泊へ"),
        "transfer_choose": _("%(name)s さんの移動先を選んでください"),
        "confirm_transfer": _("%(name)s さんを「%(shelter)s」へ移動します。よろしいですか"),
        "confirm_leave_name": _("%(name)s さんを退所として記録します。よろしいですか"),
        "yes_transfer": _("移動する"),
        "yes_leave": _("退所する"),
        "sex.male": _("男"), "sex.female": _("女"),
        "needs_all": _("すべて"),
        "needs.elderly": _("高齢者"), "needs.disability": _("障害者"), "needs.infant": _("乳幼児"),
        "needs.pregnant": _("妊産婦"), "needs.language": _("外国人・言語支援"), "needs.allergy": _("アレルギー"),
        "needs.medical": _("医療機器・慢性疾患"), "needs.care": _("要介護"), "needs.injury": _("病気・けが"),
        "pets": _("ペット %(n)s"),
        "card_not_registered": _("このマイナンバーカードの人は登録がありません。フリガナなどを入力して登録してください"),
        "search_results": _("検索結果 %(n)s 件"),
        "elsewhere_short": _("他の避難所"),
        "members_elsewhere": _("ほかに %(n)s 名の世帯員が別の避難所に受付済みです（詳しくは本部へ）"),
        "hidden_matches": _("同じ人が別の避難所に受付済みです。本部に確認してください"),
        "link_with_ic": _("このICカードで受付"),
        "reader_none": _("カードリーダー: 未接続"),
        "reader_connected": _("カードリーダー接続中（%(n)s 台）"),
        "reader_paired": _("カードリーダー「%(name)s」を接続しました"),
        "reader_last_read": _("最終読み取り %(time)s"),
        "reader_never": _("読み取りなし"),
        "reader_revoke": _("接続を解除"),
        "reader_confirm_revoke": _("カードリーダー「%(name)s」の接続を解除します。よろしいですか"),
        "reader_revoked": _("カードリーダーの接続を解除しました"),
        "reader_code_until": _("%(time)s まで有効"),
        "desk_label_prefix": _("受付"),
    }


@bp.get("/<int:shelter_id>")
@login_required
def desk(shelter_id: int) -> ResponseReturnValue:
    """The desk of one shelter: scan, walk-in registration and roster."""
    page = checkin.desk_page(current_account(), shelter_id)
    return render_template(
        "desk/desk.html", shelter=page.shelter, occupancy=page.occupancy, messages=_messages(),
        transfer_targets=page.transfer_targets, undo_minutes=current_app.config["EVAC_UNDO_MINUTES"],
    )


@bp.get("/csrf")
@login_required
def csrf_token() -> ResponseReturnValue:
    """A fresh CSRF token, for replaying check-ins queued while the server was unreachable."""
    return jsonify({"csrf_token": generate_csrf()})


@bp.get("/sw.js")
def service_worker() -> ResponseReturnValue:
    """The desk's service worker, served under /desk/ so that its scope covers the desk pages."""
    response = make_response(send_from_directory(current_app.static_folder or "", "desk/sw.js"))
    response.headers["Content-Type"] = "text/javascript; charset=utf-8"
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/desk/"
    return response


def _pdf(data: bytes, filename: str) -> ResponseReturnValue:
    response = make_response(data)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"  # rosters and cards carry personal data
    return response


@bp.get("/<int:shelter_id>/roster.pdf")
@login_required
def roster_pdf(shelter_id: int) -> ResponseReturnValue:
    """The roster on paper, for when the power or the network fails (audited)."""
    return _pdf(printouts.roster_pdf(current_account(), shelter_id), f"roster-{shelter_id}.pdf")


@bp.get("/<int:shelter_id>/cards/<int:person_id>.pdf")
@login_required
def card_pdf(shelter_id: int, person_id: int) -> ResponseReturnValue:
    """A person's QR card, to print after registering a walk-in."""
    pdf = printouts.card_pdf(person_id, account=current_account(), shelter_id=shelter_id)
    return _pdf(pdf, f"card-{person_id}.pdf")


@bp.get("/<int:shelter_id>/poster.pdf")
@login_required
def poster_pdf(shelter_id: int) -> ResponseReturnValue:
    """The shelter's poster with a QR code of the public crowding page."""
    ensure_shelter_access(current_account(), shelter_id)
    return _pdf(printouts.poster_pdf(shelter_id), f"poster-{shelter_id}.pdf")


@bp.get("/<int:shelter_id>/evacuee-cards.pdf")
@login_required
def evacuee_cards_pdf(shelter_id: int) -> ResponseReturnValue:
    """Ten blank evacuee cards with the shelter's name."""
    ensure_shelter_access(current_account(), shelter_id)
    return _pdf(printouts.evacuee_cards_pdf(shelter_id, 10), f"evacuee-cards-{shelter_id}.pdf")


@bp.get("/bridge")
@login_required
def bridge_simulator() -> ResponseReturnValue:
    """A stand-in for the card-reader bridge, to demonstrate My Number and IC card input."""
    return render_template("desk/bridge.html")
