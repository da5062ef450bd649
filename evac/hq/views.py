"""HQ pages and API: thin views over `evac.hq.service`, `inquiries` and `exports` (hq and admin only)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO, Any

from flask import Blueprint, Response, current_app, render_template, request, send_file
from flask.typing import ResponseReturnValue
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import login_required

from evac.accounts.auth import api_blueprint, current_account, require_roles
from evac.accounts.models import Role
from evac.common.db import now_utc
from evac.common.errors import ErrorOut
from evac.common.vocab import TOKYO
from evac.hq import closing, exports, incidents, inquiries, service, summary
from evac.hq.compression import compress
from evac.hq.schemas import (
    CloseReportOut,
    ExportArgs,
    IncidentCloseIn,
    IncidentIn,
    IncidentListOut,
    IncidentOut,
    IncidentPatch,
    InquiryIn,
    InquiryOut,
    MoveAllIn,
    MoveAllOut,
    OccupancyArgs,
    OccupancyOut,
    ShelterSearchArgs,
    ShelterSearchOut,
    SyncArgs,
    SyncStatesOut,
    TrendArgs,
    TrendOut,
)
from evac.settings import DEFAULT_PFIF_DOMAIN

blp = api_blueprint("hq-api", __name__, "/api/v1", "本部 / Headquarters")
bp = Blueprint("hq", __name__, url_prefix="/hq")

HQ_ROLES = (Role.ADMIN, Role.HQ)
DEFAULT_REFRESH_SECONDS = 15


@blp.route("/occupancy")
class Occupancy(MethodView):
    @require_roles(*HQ_ROLES)
    @blp.arguments(OccupancyArgs, location="query")
    @blp.response(200, OccupancyOut)
    @blp.alt_response(304, description="Not Modified: nothing shown has changed since the ETag sent in If-None-Match")
    def get(self, args: dict[str, Any]) -> Response:
        """Totals and every open or full shelter's occupancy, households, needs and last change.

        With an ETag: a poll sending `If-None-Match` with the last one gets `304 Not Modified`
        while nothing shown has changed (one aggregate query, no body); a changed answer is
        gzipped for a client that accepts it. With `since` (the last answer's `generated_at`) a
        changed answer holds only the shelters changed since: at 82,557 shelters a poll sends the
        few that moved, not all of them.
        """
        # The version is read before the summary: a change committed between the two makes the
        # body newer than its tag, so the next poll fetches again (never the other way round).
        role = current_account().role.value
        version = summary.current_version()
        # The role is in the tag and in the cache's key: HQ and admin see every shelter today,
        # and a role that sees fewer must never be handed another's answer.
        etag = f"occupancy-{role}-{version.tag}"
        if request.if_none_match.contains_weak(etag):
            response = current_app.response_class(status=304)
        else:
            # Built once per version and role in this process; its gzip too.
            built = summary.summary_for(role, version)
            since = args["since"]
            if since is None:
                response = current_app.response_class(built.body(), mimetype="application/json")
                compress(response, built.gzipped)
            else:
                response = current_app.response_class(built.delta_json(since, summary.closed_since(since)),
                                                      mimetype="application/json")
                compress(response)
        response.set_etag(etag, weak=True)
        response.headers["Cache-Control"] = "private, no-cache"
        response.vary.update(("Accept-Encoding", "Authorization", "Cookie"))
        return response


@blp.route("/occupancy/trend")
class Trend(MethodView):
    @require_roles(*HQ_ROLES)
    @blp.arguments(TrendArgs, location="query")
    @blp.response(200, TrendOut)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Occupancy over the last 24 hours, in total or for one shelter (hourly, carried forward)."""
        return service.trend(args["shelter_id"], incident_id=args["incident_id"])


@blp.route("/occupancy/sync")
class SyncStates(MethodView):
    @require_roles(*HQ_ROLES)
    @blp.arguments(SyncArgs, location="query")
    @blp.response(200, SyncStatesOut)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Whether each listed shelter's changes have reached the victim-support system."""
        connector = current_app.config["EVAC_SYNC_CONNECTOR"]
        states = service.shelter_sync_states(args["shelter_id"], connector)
        return {"connector": connector, "shelters": {str(k): v for k, v in states.items()}}


@blp.route("/hq/shelters")
class ShelterSearch(MethodView):
    @require_roles(*HQ_ROLES)
    @blp.arguments(ShelterSearchArgs, location="query")
    @blp.response(200, ShelterSearchOut)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Shelters by name, kana, code or municipality (to find a closed one to open)."""
        return {"items": service.find_shelters(args["q"], status=args["status"], limit=args["limit"])}


@blp.route("/shelters/<int:shelter_id>/move-all")
class MoveAll(MethodView):
    @require_roles(*HQ_ROLES)
    @blp.arguments(MoveAllIn)
    @blp.response(200, MoveAllOut)
    @blp.alt_response(409, schema=ErrorOut, description="shelter_closed: the target is not open")
    def post(self, body: dict[str, Any], shelter_id: int) -> dict[str, Any]:
        """「全員を移動」: every open stay of the shelter becomes a transfer to `to_shelter_id` (audited,
        with a `transfer` event each), so that the shelter can then be closed."""
        return closing.move_all(current_account(), shelter_id, body["to_shelter_id"])


@blp.route("/incidents")
class Incidents(MethodView):
    @require_roles(*HQ_ROLES)
    @blp.response(200, IncidentListOut)
    def get(self) -> dict[str, Any]:
        """Incidents (disasters and drills), the open one first."""
        return {"items": incidents.list_incidents()}

    @require_roles(*HQ_ROLES)
    @blp.arguments(IncidentIn)
    @blp.response(201, IncidentOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Open a disaster or a drill (409 while another is open); shelters can be opened from then on."""
        return incidents.open_incident(current_account(), body["name"], body["kind"])


@blp.route("/incidents/<int:incident_id>")
class IncidentItem(MethodView):
    @require_roles(*HQ_ROLES)
    @blp.arguments(IncidentPatch)
    @blp.response(200, IncidentOut)
    def patch(self, body: dict[str, Any], incident_id: int) -> dict[str, Any]:
        """Show or hide the incident's shelters on the public page (a drill is hidden by default)."""
        return incidents.set_public(current_account(), incident_id, body["public"])


@blp.route("/incidents/current/close")
class CloseIncident(MethodView):
    @require_roles(*HQ_ROLES)
    @blp.arguments(IncidentCloseIn)
    @blp.response(200, CloseReportOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """End the open incident. A drill's data is removed; a disaster needs its shelters closed first (409)."""
        return incidents.close_incident(current_account(), dry_run=body["dry_run"]).as_dict()


@blp.route("/inquiries")
class Inquiries(MethodView):
    @require_roles(*HQ_ROLES)
    @blp.arguments(InquiryIn)
    @blp.response(200, InquiryOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """安否確認: find a person; say what may be told to this kind of requester (audited)."""
        return inquiries.inquire(query=body["q"], birth_date=body["birth_date"], requester=body["requester"],
                                 incident_id=body["incident_id"])


# A CSV's charset as the IANA registers it: CP932 is "Windows-31J" (Shift_JIS lacks its NEC and
# IBM extensions: ①, 髙, 﨑 …), and its tag in the file name, so the two downloads never share a name.
CSV_CHARSETS = {"utf-8": "utf-8", "cp932": "Windows-31J"}
CSV_NAME_TAGS = {"utf-8": "utf8", "cp932": "sjis"}


def _export_name(kind: str, shelter_id: int | None, extension: str, encoding: str | None = None) -> str:
    """`evac-<kind>-<scope>-<Japan date and time>[-<encoding>].<extension>`: the time HQ reads on its clocks."""
    scope = f"shelter{shelter_id}" if shelter_id else "all"
    tag = f"-{CSV_NAME_TAGS[encoding]}" if encoding else ""
    return f"evac-{kind}-{scope}-{now_utc().astimezone(TOKYO):%Y%m%d-%H%M}{tag}.{extension}"


def _scope(args: dict[str, Any]) -> int | None:
    return args["shelter_id"]


def _download(kind: str, shelter_id: int | None, write: Callable[[IO[bytes]], exports.ExportCount],
              name: str, content_type: str, encoding: str | None = None) -> Response:
    """Write the export into a temporary file (memory, then disk: bounded memory for a whole
    disaster's roster), audit it with its size, and send it as `content_type`, exactly."""
    target = exports.spooled()
    try:
        exports.run_export(kind, shelter_id, write, target, encoding=encoding)
    except BaseException:
        target.close()
        raise
    size = target.tell()
    target.seek(0)
    if size <= exports.IN_MEMORY:
        with target:
            response = Response(target.read())
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    else:
        # Sent from the file on disk; the WSGI server closes (and so deletes) it when done.
        response = send_file(target, mimetype=content_type, as_attachment=True, download_name=name, max_age=0)
    # Set as a whole: given as a mimetype, Werkzeug appends its own "; charset=utf-8" to text/*,
    # a second charset (or a wrong one after Windows-31J).
    response.headers["Content-Type"] = content_type
    response.headers["Cache-Control"] = "no-store"
    return response


def _chunks_into(chunks: Iterator[bytes], target: IO[bytes]) -> None:
    for chunk in chunks:
        target.write(chunk)


def _csv_export(kind: str, args: dict[str, Any],
                make: Callable[..., tuple[Iterator[bytes], exports.ExportCount]]) -> Response:
    shelter_id = _scope(args)
    encoding = args["encoding"]

    def write(target: IO[bytes]) -> exports.ExportCount:
        chunks, count = make(shelter_id, encoding=encoding, incident_id=args["incident_id"])
        _chunks_into(chunks, target)
        return count

    return _download(f"{kind}_csv", shelter_id, write, _export_name(kind, shelter_id, "csv", encoding),
                     f"text/csv; charset={CSV_CHARSETS[encoding]}", encoding)


@blp.route("/exports/roster.csv")
class RosterCsv(MethodView):
    @require_roles(*HQ_ROLES)
    @blp.arguments(ExportArgs, location="query")
    def get(self, args: dict[str, Any]) -> Response:
        """Roster of one shelter or all (CSV, UTF-8 with BOM or CP932); audited."""
        return _csv_export("roster", args, exports.roster_csv)


@blp.route("/exports/roster.xlsx")
class RosterXlsx(MethodView):
    @require_roles(*HQ_ROLES)
    @blp.arguments(ExportArgs, location="query")
    def get(self, args: dict[str, Any]) -> Response:
        """Roster of one shelter or all as an Excel workbook; audited."""
        shelter_id = _scope(args)
        return _download("roster_xlsx", shelter_id,
                         lambda target: exports.roster_xlsx(shelter_id, target, args["incident_id"]),
                         _export_name("roster", shelter_id, "xlsx"),
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@blp.route("/exports/anpi.csv")
class AnpiCsv(MethodView):
    @require_roles(*HQ_ROLES)
    @blp.arguments(ExportArgs, location="query")
    def get(self, args: dict[str, Any]) -> Response:
        """安否情報 CSV in 安否情報収集様式 order (①氏名 … ⑭), UTF-8 with BOM or CP932; audited."""
        return _csv_export("anpi", args, exports.anpi_csv)


@blp.route("/exports/pfif.xml")
class PfifXml(MethodView):
    @require_roles(*HQ_ROLES)
    @blp.arguments(ExportArgs, location="query")
    def get(self, args: dict[str, Any]) -> Response:
        """PFIF 1.4 of the evacuees who agreed to public disclosure (⑭) only; audited."""
        config = current_app.config

        def write(target: IO[bytes]) -> exports.ExportCount:
            chunks, count = exports.pfif_xml(
                incident_id=args["incident_id"],
                domain=config.get("EVAC_PFIF_DOMAIN") or DEFAULT_PFIF_DOMAIN,
                author=_("%(town)s災害対策本部", town=config["EVAC_TOWN_NAME"]),
                source_name=f"evac {config['EVAC_TOWN_NAME']}",
                source_url=request.url_root,
            )
            _chunks_into(chunks, target)
            return count

        return _download("pfif", None, write, _export_name("pfif", None, "xml"), "application/xml; charset=utf-8")


# ---------------------------------------------------------------------------------------------
# Pages


def _need_labels() -> dict[str, str]:
    return {
        "elderly": _("高齢者"), "disability": _("障害者"), "infant": _("乳幼児"), "pregnant": _("妊産婦"),
        "language": _("外国人・言語支援"), "allergy": _("アレルギー"), "medical": _("医療機器・慢性疾患"),
        "care": _("要介護"), "injury": _("病気・けが"),
    }


def _messages() -> dict[str, str]:
    """Texts the HQ page's script shows, translated here so the script holds none of its own."""
    return {
        "status.open": _("開設"), "status.full": _("満員"), "status.closed": _("閉鎖"),
        "sync.off": _("同期なし"), "sync.ok": _("送信済み"), "sync.pending": _("送信待ち %(n)s件"),
        "sync.parked": _("要確認 %(n)s件"), "sync.unknown": _("—"),
        "capacity_unknown": _("定員未登録"),
        "alert_full": _("満員: %(name)s（%(occupancy)s / %(capacity)s人・%(pct)s％）"),
        "alert_near": _("80％以上: %(name)s（%(occupancy)s / %(capacity)s人・%(pct)s％）"),
        "alert_new": _("新たに警告: %(names)s"),
        "no_alerts": _("定員の80％以上の避難所はありません"),
        "more_alerts": _("ほか %(n)s 件を表で見る"),
        "updated": _("最終更新 %(time)s"),
        "refresh_failed": _("更新できませんでした（%(time)s の情報を表示中）"),
        "paused": _("自動更新を停止中"),
        "rows": _("%(from)s–%(to)s件目 / %(n)s件"),
        "no_rows": _("条件に合う避難所はありません"),
        "minutes_ago": _("%(n)s分前"), "hours_ago": _("%(n)s時間前"), "just_now": _("たった今"),
        "days_ago": _("%(n)s日前"),
        "confirm_close": _("%(name)s を閉鎖します。よろしいですか"),
        "confirm_full": _("%(name)s を満員にします（新しい受付には警告が出ます）。よろしいですか"),
        "confirm_open": _("%(name)s を開設します。よろしいですか"),
        "capacity_prompt": _("%(name)s の定員（人数。空欄で未登録）"),
        "capacity_invalid": _("定員は0以上の整数で入力してください"),
        "saved": _("%(name)s を更新しました"),
        "error": _("エラー: %(message)s"), "network_error": _("サーバーにつながりません"),
        "trend_total": _("全避難所の在所者数（24時間）"),
        "trend_shelter": _("%(name)s の在所者数（24時間）"),
        "map_offline": _("地図を読み込めません（オフライン）。一覧表はそのまま使えます。"),
        "people": _("%(n)s人"),
        "open_action": _("開設"), "close_action": _("閉鎖"), "full_action": _("満員にする"),
        "move_all": _("全員を%(name)sへ移動"), "move_target": _("移動先"),
        "move_choose": _("移動先の避難所を選んでください"),
        "confirm_move_all": _("%(from)s に受付中の %(n)s 人全員を %(to)s へ移動します。"
                              "一人ずつ移動として記録され、被災者支援システムにも送られます。よろしいですか"),
        "moved_all": _("%(n)s 人を %(from)s から %(to)s へ移動しました。%(from)s を閉鎖できます"),
        "kind.evacuation": _("指定避難所"), "kind.emergency": _("指定緊急避難場所"), "kind.welfare": _("福祉避難所"),
        "reopen_action": _("受付再開"), "capacity_action": _("定員設定"), "trend_action": _("推移"),
        "select": _("選択"),
        "exports_for": _("%(name)s の名簿"),
        "search_none": _("該当する避難所はありません"),
        "household_short": _("世帯"),
        "at_home": _("在宅"), "in_car": _("車中泊"), "pets": _("ペット"),
        "last_change": _("最終変更: %(when)s"),
        "readers_none": _("ペアリングされたカードリーダーはありません"),
        "reader_never": _("読み取りなし"),
        "reader_revoke": _("接続を解除"),
        "reader_confirm_revoke": _("%(shelter)s のカードリーダー「%(name)s」の接続を解除します。よろしいですか"),
        "reader_revoked": _("カードリーダー「%(name)s」の接続を解除しました"),
    }


def _incident_messages() -> dict[str, str]:
    """Texts of the HQ page's incident panel (evac/static/hq/incident.js)."""
    return {
        "none": _("災害・訓練は開始されていません。開始すると避難所を開設できます"),
        "disaster": _("災害対応中: %(name)s（%(since)s から）"),
        "drill": _("訓練中: %(name)s（%(since)s から）。記録は終了時に消去されます"),
        "name_required": _("名称を入力してください"),
        "confirm_disaster": _("災害対応「%(name)s」を開始します。よろしいですか"),
        "confirm_drill": _("訓練「%(name)s」を開始します。よろしいですか"),
        "plan_drill": _("訓練「%(name)s」を終了し、次の記録を消去します（登録済みの住民とそのカードは残ります）:"),
        "plan_disaster": _("災害対応「%(name)s」を終了します。記録は保存期間のあいだ残ります"),
        "blocked": _("開設中の避難所が %(shelters)s か所、在所中の人が %(stays)s 人います。"
                     "全員の退所・移動を記録し、避難所を閉鎖してから終了してください"),
        "closed": _("「%(name)s」を終了しました"),
        "history_current": _("開始中: %(name)s"),
        "history_item": _("%(name)s（%(start)s〜%(end)s）"),
        "kind.disaster": _("災害"), "kind.drill": _("訓練"),
        "error": _("エラー: %(message)s"),
        "shelters_closed": _("閉鎖する避難所"), "stays": _("受付記録"), "walk_ins": _("避難所で登録した人"),
        "households": _("その世帯"), "cards": _("そのQRカード"), "ic_links": _("ICカードの登録"),
        "client_requests": _("受付の応答記録"), "outbox_events": _("同期イベント"), "sync_batches": _("送信バッチ"),
        "trend_hours": _("推移の記録"),
    }


@bp.get("")
@login_required
@require_roles(*HQ_ROLES)
def dashboard() -> ResponseReturnValue:
    """The HQ dashboard: totals, alerts, map, trend and the table of open shelters; refreshes itself."""
    try:
        refresh = max(2, min(300, int(request.args.get("refresh", DEFAULT_REFRESH_SECONDS))))
    except ValueError:
        refresh = DEFAULT_REFRESH_SECONDS
    # Not `config`: that name would shadow Flask's config in the templates, and base.html's
    # header reads the town's name from it.
    hq_config = {
        "refreshSeconds": refresh,
        "messages": _messages(),
        "needLabels": list(_need_labels().items()),
        "syncConnector": current_app.config["EVAC_SYNC_CONNECTOR"],
        "role": current_account().role.value,
    }
    return render_template("hq/dashboard.html", hq_config=hq_config, need_labels=_need_labels(),
                           incident_config={"messages": _incident_messages()})


@bp.get("/inquiry")
@login_required
@require_roles(*HQ_ROLES)
def inquiry() -> ResponseReturnValue:
    """Safety inquiries (安否確認): search and answer within the person's consent."""
    messages = {
        "relative": _("親族・同居者"), "acquaintance": _("知人"), "other": _("その他の人"),
        "no_results": _("該当する人は見つかりません。表記を変えるか、生年月日で探してください"),
        "results": _("%(n)s 件"), "more": _("%(n)s 件以上あります。条件を加えて絞り込んでください"),
        "male": _("男"), "female": _("女"), "other_sex": _("回答しない"),
        "answer": _("回答"), "whereabouts": _("所在（職員向け）"), "consent": _("同意"),
        "not_registered": _("受付記録なし"), "error": _("エラー: %(message)s"),
        "network_error": _("サーバーにつながりません"),
    }
    return render_template("hq/inquiry.html", messages=messages)
