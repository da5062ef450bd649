// The desk's flow with a fake page and a scripted server: a check-in the server cannot take
// (offline, 502/503/504) is queued exactly as when offline, and delivered later.
import assert from "node:assert/strict";
import {describe, it} from "node:test";

import {makeAnswer} from "../../evac/static/js/api.js";
import {translator} from "../../evac/static/js/i18n.js";
import {createDesk} from "../../evac/static/desk/controller.js";
import {memoryStore, OfflineQueue} from "../../evac/static/desk/queue.js";

const SHELTER = 7;
const PAYLOAD = "EV1:AAAAAAQAAAAAOOAD3ZBQN6TILE";
const t = translator({
  queued: "保留 %(n)s", checked_in: "%(n)s 名を受付しました", already_here: "受付済み", network_error: "つながりません",
  sent_pending: "送信 %(n)s", select_members: "選んでください", link_ic: "ICを登録", done: "完了",
  individual_number: "個人番号は受け付けません", card_not_registered: "登録なし",
  checked_in_names: "%(names)s の %(n)s 名を受付しました", name_san: "%(name)s さん", name_separator: "、",
  shelter_closed: "この避難所は閉鎖されています",
  undo_checkin: "%(names)sの受付を取り消す", undo_left: "%(names)sの退所を取り消す", undone: "取り消しました",
});
const household = {
  person: {id: 1, family_name: "精華", given_name: "太郎"},
  household: {members: [{id: 1}, {id: 2}]},
};
const checkedIn = (n = 2) => makeAnswer(201, {stays: Array(n).fill({}), shelter: {occupancy: n, households: 1}}, null);

/** A server answering each path from its own script; what was asked is kept. */
function fakeApi(script) {
  const calls = [];
  const answer = (method, path, body) => {
    calls.push({method, path, body});
    const key = Object.keys(script).find((prefix) => path.startsWith(prefix));
    const queue = key ? script[key] : [];
    const next = queue.length > 1 ? queue.shift() : queue[0];
    return Promise.resolve(next ? next() : makeAnswer(404, null, null));
  };
  return {
    calls,
    api: {get: (path) => answer("GET", path), post: (path, body) => answer("POST", path, body), patch: () => null},
  };
}

function fakeView() {
  const log = {flashes: [], pending: [], households: [], tabs: [], candidates: [], counts: [], resets: 0,
    walkIns: [], people: [], linking: [], closed: [], undo: []};
  return {
    log,
    flash: (message, kind) => log.flashes.push([kind, message]),
    clearFlash: () => log.flashes.push(["clear"]),
    showClosed: (closed) => log.closed.push(closed),
    setPending: (n) => log.pending.push(n),
    setCounts: (shelter) => log.counts.push(shelter),
    showTab: (name) => log.tabs.push(name),
    clearScanInput: () => {},
    resetScan: () => { log.resets += 1; },
    showHousehold: (current) => log.households.push(current),
    hideCandidates: () => {},
    showCandidates: (candidates, body, member) => log.candidates.push({candidates, body, member}),
    rosterShown: () => false,
    rosterQuery() { return this.query; },
    renderRoster: () => {},
    renderPeople: (data) => log.people.push(data),
    showLinking: (on) => log.linking.push(on),
    showWalkIn: (values) => log.walkIns.push(values),
    showWalkInForHousehold: (joining) => log.walkIns.push(joining),
    offerUndo: (text, onUndo, ms) => log.undo.push({text, onUndo, ms}),
    hideUndo: () => log.undo.push("hidden"),
    enableUndo: () => log.undo.push("enabled"),
    query: new FormData(),
  };
}

function setup(script, options = {}) {
  const {api, calls} = fakeApi(script);
  let n = 0;
  const clock = {now: 1_000_000};
  const queue = new OfflineQueue({store: memoryStore(), send: (item) => api.post(item.path, item.body), now: () => clock.now});
  const view = fakeView();
  const desk = createDesk({shelterId: SHELTER, api, queue, t, uuid: () => "client-" + (n += 1), view, ...options});
  return {desk, queue, view, calls, clock};
}

const lookedUp = () => makeAnswer(200, household, null);

describe("a household check-in", () => {
  it("goes through when the server takes it", async () => {
    const {desk, view, queue} = setup({"/api/v1/lookups": [lookedUp], "/api/v1/checkins": [checkedIn]});
    await desk.handleScan(PAYLOAD + "\n");
    assert.equal(view.log.households.length, 1);
    const data = await desk.checkInHousehold([{id: 1, elsewhere: false}, {id: 2, elsewhere: false}]);
    assert.equal(data.stays.length, 2);
    assert.deepEqual(view.log.flashes.at(-1), ["ok", "2 名を受付しました"]);
    assert.equal((await queue.pending()).length, 0);
  });

  for (const status of [503, 502, 504]) {
    it(`answered ${status} is queued with its client_id, as when offline, and sent later`, async () => {
      const busy = () => makeAnswer(status, {error: {code: "database_unavailable", message: "busy"}}, "30");
      const {desk, view, queue, calls, clock} = setup({"/api/v1/lookups": [lookedUp], "/api/v1/checkins": [busy, checkedIn]});
      await desk.handleScan(PAYLOAD);
      const data = await desk.checkInHousehold([{id: 1, elsewhere: false}, {id: 2, elsewhere: true}]);
      assert.equal(data, null);
      assert.deepEqual(view.log.flashes.at(-1), ["info", "保留 1"]);
      // The scan started from a clean screen; the queued check-in closes the household view again.
      assert.equal(view.log.resets, 2);
      const pending = await queue.pending(SHELTER);
      assert.equal(pending.length, 1);
      assert.deepEqual(pending[0].body, {
        shelter_id: SHELTER, client_id: "client-1", members: [1, 2], transfer: true, qr: PAYLOAD,
      });
      assert.equal(pending[0].client_id, "client-1");

      // The server said when to ask again: not before.
      assert.equal((await desk.flush()).skipped, true);
      clock.now += 30_000;
      const sent = await desk.flush();
      assert.equal(sent.sent.length, 1);
      const posts = calls.filter((c) => c.path === "/api/v1/checkins");
      assert.deepEqual(posts.map((c) => c.body.client_id), ["client-1", "client-1"]); // the same id: never a second stay
      assert.deepEqual(view.log.flashes.at(-1), ["ok", "送信 1"]);
      assert.equal((await queue.pending()).length, 0);
    });
  }

  it("answered 422 is shown, not queued", async () => {
    const refused = () => makeAnswer(422, {error: {code: "validation_failed", message: "入力内容に誤りがあります"}}, null);
    const {desk, view, queue} = setup({"/api/v1/lookups": [lookedUp], "/api/v1/checkins": [refused]});
    await desk.handleScan(PAYLOAD);
    await desk.checkInHousehold([{id: 1, elsewhere: false}]);
    assert.deepEqual(view.log.flashes.at(-1), ["error", "入力内容に誤りがあります"]);
    assert.equal((await queue.pending()).length, 0);
  });

  it("of nobody ticked asks for someone", async () => {
    const {desk, view, calls} = setup({"/api/v1/lookups": [lookedUp]});
    await desk.handleScan(PAYLOAD);
    await desk.checkInHousehold([]);
    assert.deepEqual(view.log.flashes.at(-1), ["error", "選んでください"]);
    assert.equal(calls.filter((c) => c.path === "/api/v1/checkins").length, 0);
  });
});

describe("a scan", () => {
  it("whose lookup is answered 503 queues the card's check-in", async () => {
    const busy = () => makeAnswer(503, null, "2");
    const {desk, view, queue} = setup({"/api/v1/lookups": [busy]});
    await desk.handleScan("0000ー01YAー183W");
    const pending = await queue.pending();
    assert.equal(pending.length, 1);
    assert.deepEqual(pending[0].body, {shelter_id: SHELTER, client_id: "client-1", qr: "0000-01YA-183W"});
    assert.deepEqual(view.log.flashes.at(-1), ["info", "保留 1"]);
  });

  it("from a card reader cannot wait: offline, it says so", async () => {
    const {desk, view, queue} = setup({"/api/v1/lookups": [() => makeAnswer(0, null, null)]});
    await desk.handleScan('{"type": "ic", "uid": "012E4C7A11223344"}');
    assert.equal((await queue.pending()).length, 0);
    assert.deepEqual(view.log.flashes.at(-1), ["error", "つながりません"]);
  });

  it("of twelve digits (a 個人番号?) is never stored on the tablet", async () => {
    const {desk, view, queue} = setup({"/api/v1/lookups": [() => makeAnswer(503, null, null)]});
    await desk.handleScan("1234 5678 9012");
    assert.equal((await queue.pending()).length, 0);
    assert.deepEqual(view.log.flashes.at(-1), ["error", "個人番号は受け付けません"]);
  });

  it("of garbage goes to the server, which refuses and audits it", async () => {
    const refused = () => makeAnswer(422, {error: {code: "card_malformed", message: "読み取れません"}}, null);
    const {desk, view, calls} = setup({"/api/v1/lookups": [refused]});
    await desk.handleScan("hello");
    assert.deepEqual(calls[0].body, {shelter_id: SHELTER, qr: "hello"});
    assert.deepEqual(view.log.flashes.at(-1), ["error", "読み取れません"]);
  });

  it("of a broken reader line is dropped", async () => {
    const {desk, calls} = setup({});
    await desk.handleScan('{"type": "mynumber"');
    await desk.handleScan("   ");
    assert.equal(calls.length, 0);
  });

  it("of an unlinked IC card asks staff to pick the person from the roster", async () => {
    const unlinked = () => makeAnswer(404, {error: {code: "ic_card_unlinked", message: "未登録"}}, null);
    const {desk, view, calls} = setup({"/api/v1/lookups": [unlinked], "/api/v1/shelters": [() => makeAnswer(200, {
      shelter: {}, counts: {}, items: [],
    }, null)], "/api/v1/checkins": [checkedIn]});
    await desk.handleScan('{"type": "ic", "uid": "0A0B"}');
    assert.deepEqual(view.log.tabs, ["roster"]);
    assert.deepEqual(view.log.flashes.at(-1), ["info", "ICを登録"]);
    await desk.linkIc(42);
    assert.deepEqual(calls.at(-1).body, {shelter_id: SHELTER, client_id: "client-1", ic_uid: "0A0B", person_id: 42});
    assert.equal(desk.state.pendingIc, null);
  });
});

describe("a My Number card read", () => {
  const line = (sex = "2") => JSON.stringify({type: "mynumber", card: {
    name: "精華　花子", address: "京都府相楽郡精華町光台７丁目４３番地", birth_date: "19800102", sex}});
  const found = (data) => () => makeAnswer(200, data, null);

  it("with one match shows the household", async () => {
    const {desk, view, calls} = setup({"/api/v1/lookups": [lookedUp]});
    await desk.handleScan(line());
    assert.equal(calls[0].body.card.name, "精華　花子");
    assert.equal(view.log.households.length, 1);
    assert.deepEqual(view.log.households[0].identify, {card: JSON.parse(line()).card});
  });

  it("with several matches lists the candidates", async () => {
    const twins = [{id: 1}, {id: 2}];
    const {desk, view} = setup({"/api/v1/lookups": [found({person: null, household: null, candidates: twins})]});
    await desk.handleScan(line());
    assert.deepEqual(view.log.candidates[0].candidates, twins);
    assert.equal(view.log.walkIns.length, 0);
  });

  for (const [sex, expected] of [["2", "female"], ["1", "male"], ["9", "other"]]) {
    it(`with no match opens the walk-in form prefilled from the four items (sex ${sex})`, async () => {
      const {desk, view} = setup({"/api/v1/lookups": [found({person: null, household: null, candidates: []})]});
      await desk.handleScan(line(sex));
      assert.deepEqual(view.log.walkIns, [{family_name: "精華", given_name: "花子", birth_date: "1980-01-02",
                                           sex: expected, address: "京都府相楽郡精華町光台7丁目43番地"}]);
      assert.deepEqual(view.log.flashes.at(-1), ["info", "登録なし"]);
      assert.equal(view.log.candidates.length, 0);
    });
  }
});

describe("an IC card's first tap", () => {
  const unlinked = () => makeAnswer(404, {error: {code: "ic_card_unlinked", message: "未登録"}}, null);

  it("searches everyone staff may find, and links the card to the person chosen", async () => {
    const people = {items: [{id: 42, family_name: "精華", given_name: "花子"}], total: 1};
    const {desk, view, calls} = setup({"/api/v1/lookups": [unlinked], "/api/v1/persons": [() => makeAnswer(200, people, null)],
                                       "/api/v1/checkins": [checkedIn]});
    await desk.handleScan('{"type": "ic", "uid": "0A0B"}');
    assert.deepEqual(view.log.linking, [true]);
    view.query = new FormData();
    view.query.set("q", "せいか");
    await desk.loadRoster();
    assert.equal(calls.at(-1).path, "/api/v1/persons?q=%E3%81%9B%E3%81%84%E3%81%8B");
    assert.deepEqual(view.log.people, [people]);
    await desk.linkIc(42);
    assert.deepEqual(calls.at(-1).body, {shelter_id: SHELTER, client_id: "client-1", ic_uid: "0A0B", person_id: 42});
    assert.deepEqual(view.log.linking, [true, false]);
  });

  it("can be given up", async () => {
    const roster = () => makeAnswer(200, {shelter: {}, counts: {}, items: []}, null);
    const {desk, view} = setup({"/api/v1/lookups": [unlinked], "/api/v1/shelters": [roster]});
    await desk.handleScan('{"type": "ic", "uid": "0A0B"}');
    await desk.cancelLink();
    assert.equal(desk.state.pendingIc, null);
    assert.deepEqual(view.log.linking, [true, false]);
    view.query = new FormData();
    view.query.set("q", "せいか");
    await desk.loadRoster(); // the roster's own search again
    assert.equal(view.log.people.length, 0);
  });
});

describe("the queue at the desk", () => {
  it("reports refusals and the count still waiting", async () => {
    const refused = () => makeAnswer(422, {error: {code: "card_revoked", message: "再発行されています"}}, null);
    const {desk, view, queue} = setup({"/api/v1/checkins": [refused]});
    await queue.add({client_id: "a", path: "/api/v1/checkins", body: {qr: "x"}, shelter_id: SHELTER});
    await desk.tick();
    assert.deepEqual(view.log.flashes.at(-1), ["error", "再発行されています"]);
    assert.equal(view.log.pending.at(-1), 0);
  });

  it("keeps waiting while the server is busy and says how many wait", async () => {
    const {desk, view, queue} = setup({"/api/v1/checkins": [() => makeAnswer(503, null, "60")]});
    await queue.add({client_id: "a", path: "/api/v1/checkins", body: {qr: "x"}, shelter_id: SHELTER});
    await queue.add({client_id: "b", path: "/api/v1/checkins", body: {qr: "y"}, shelter_id: 99});
    await desk.tick();
    assert.equal(view.log.pending.at(-1), 1); // this shelter's
    assert.equal((await queue.pending()).length, 2);
    assert.equal(view.log.flashes.length, 0);
  });
});

describe("the header's counts", () => {
  it("are fetched again when an idle desk has not had them for a while", async () => {
    const clock = {now: 5_000};
    const shelter = () => makeAnswer(200, {id: SHELTER, status: "open", occupancy: 41, households: 17}, null);
    const {desk, view, calls} = setup({"/api/v1/shelters/": [shelter]}, {countsEveryMs: 30_000, now: () => clock.now});
    clock.now += 10_000;
    await desk.tick();
    assert.equal(calls.filter((c) => c.method === "GET").length, 0, "fresh enough: nothing asked");
    clock.now += 25_000;
    await desk.tick();
    assert.deepEqual(calls.map((c) => c.path), ["/api/v1/shelters/" + SHELTER]);
    assert.deepEqual(view.log.counts.at(-1), {id: SHELTER, status: "open", occupancy: 41, households: 17});
  });

  it("are not fetched while a check-in's answer has just set them", async () => {
    const clock = {now: 5_000};
    const {desk, calls} = setup({"/api/v1/checkins": [checkedIn]}, {countsEveryMs: 30_000, now: () => clock.now});
    clock.now += 29_000;
    await desk.submitCheckin({shelter_id: SHELTER, client_id: "x", qr: PAYLOAD}, []);
    clock.now += 20_000;
    await desk.tick();
    assert.equal(calls.filter((c) => c.method === "GET").length, 0);
  });
});

describe("a scan after a household", () => {
  const named = {
    person: {id: 1, family_name: "岩田", given_name: "哲也"},
    household: {members: [{id: 1, family_name: "岩田", given_name: "哲也"}, {id: 2, family_name: "岩田", given_name: "花子"}]},
  };
  const refused = () => makeAnswer(404, {error: {code: "card_unknown", message: "読み取れません"}}, null);

  it("is a new scan: the household before it is gone before anything is asked", async () => {
    const {desk, view, calls} = setup({"/api/v1/lookups": [() => makeAnswer(200, named, null), refused]});
    await desk.handleScan(PAYLOAD);
    assert.ok(desk.state.current);
    await desk.handleScan("0000-01YA-183W");
    assert.equal(desk.state.current, null, "a failed scan leaves no household one tap from チェックイン");
    assert.equal(view.log.resets, 2);
    assert.deepEqual(view.log.flashes.slice(-2), [["clear"], ["error", "読み取れません"]]);
    assert.equal(await desk.checkInHousehold([{id: 1, elsewhere: false}]), null);
    assert.equal(calls.filter((c) => c.path === "/api/v1/checkins").length, 0);
  });

  it("that the server cannot take yet is queued with nothing left on screen", async () => {
    const {desk, queue} = setup({"/api/v1/lookups": [() => makeAnswer(200, named, null), () => makeAnswer(503, null, "1")]});
    await desk.handleScan(PAYLOAD);
    await desk.handleScan("0000-01YA-183W");
    assert.equal(desk.state.current, null);
    assert.equal((await queue.pending()).length, 1);
  });
});

describe("a check-in that went through", () => {
  it("names the people checked in", async () => {
    const named = {
      person: {id: 1, family_name: "岩田", given_name: "哲也"},
      household: {members: [{id: 1, family_name: "岩田", given_name: "哲也"}, {id: 2, family_name: "岩田", given_name: "花子"}]},
    };
    const stays = () => makeAnswer(201, {stays: [{person_id: 1}, {person_id: 2}], shelter: {occupancy: 2, households: 1}}, null);
    const {desk, view} = setup({"/api/v1/lookups": [() => makeAnswer(200, named, null)], "/api/v1/checkins": [stays]});
    await desk.handleScan(PAYLOAD);
    await desk.checkInHousehold([{id: 1, elsewhere: false}, {id: 2, elsewhere: false}]);
    assert.deepEqual(view.log.flashes.at(-1), ["ok", "岩田 哲也 さん、岩田 花子 さん の 2 名を受付しました"]);
  });

  it("refused by the server leaves no household on screen", async () => {
    const refused = () => makeAnswer(409, {error: {code: "already_elsewhere", message: "別の避難所"}}, null);
    const {desk, view} = setup({"/api/v1/lookups": [lookedUp], "/api/v1/checkins": [refused]});
    await desk.handleScan(PAYLOAD);
    await desk.checkInHousehold([{id: 1, elsewhere: false}]);
    assert.equal(desk.state.current, null);
    assert.deepEqual(view.log.flashes.at(-1), ["error", "別の避難所"]);
  });
});

describe("a closed shelter", () => {
  const closed = () => makeAnswer(409, {error: {code: "shelter_closed", message: "開設されていません"}}, null);

  it("refuses the scan in the desk's words and shows itself closed", async () => {
    const {desk, view} = setup({"/api/v1/lookups": [closed]});
    await desk.handleScan(PAYLOAD);
    assert.deepEqual(view.log.flashes.at(-1), ["error", "この避難所は閉鎖されています"]);
    assert.deepEqual(view.log.closed, [true]);
    assert.equal(desk.state.current, null);
  });

  it("queues nothing while offline: the check-in would only be refused later", async () => {
    const {api} = fakeApi({"/api/v1/lookups": [() => makeAnswer(0, null, null)]});
    const view = fakeView();
    const queue = new OfflineQueue({store: memoryStore(), send: () => null});
    const desk = createDesk({shelterId: SHELTER, api, queue, t, uuid: () => "x", view, closed: true});
    await desk.handleScan(PAYLOAD);
    assert.deepEqual(view.log.flashes.at(-1), ["error", "この避難所は閉鎖されています"]);
    assert.equal((await queue.pending()).length, 0);
  });

  it("that opened again takes scans again", async () => {
    const {api} = fakeApi({"/api/v1/lookups": [lookedUp]});
    const view = fakeView();
    const queue = new OfflineQueue({store: memoryStore(), send: () => null});
    const desk = createDesk({shelterId: SHELTER, api, queue, t, uuid: () => "x", view, closed: true});
    await desk.handleScan(PAYLOAD);
    assert.deepEqual(view.log.closed, [false]);
    assert.equal(view.log.households.length, 1);
  });
});

describe("taking an operation back", () => {
  const named = () => makeAnswer(201, {
    stays: [{id: 11, person_id: 1}], shelter: {occupancy: 1, households: 1},
    person: {id: 1, family_name: "精華", given_name: "太郎"},
  }, null);
  const undone = () => makeAnswer(201, {stays: [], voided_stay_ids: [11], shelter: {occupancy: 0, households: 0}}, null);

  it("is offered for the minutes set, naming who and what, and undoes that very operation", async () => {
    const {desk, view, calls} = setup({"/api/v1/checkins": [named], "/api/v1/undo": [undone]}, {undoMinutes: 3});
    await desk.chooseCandidate({id: 1, family_name: "精華", given_name: "太郎"});
    const [offer] = view.log.undo;
    assert.equal(offer.text, "精華 太郎 さんの受付を取り消す");
    assert.equal(offer.ms, 3 * 60 * 1000);
    await offer.onUndo();
    const undo = calls.find((c) => c.path === "/api/v1/undo");
    assert.deepEqual(undo.body, {client_id: "client-2", operation_id: "client-1"});
    assert.equal(view.log.undo.at(-1), "hidden");
    assert.deepEqual(view.log.counts.at(-1), {occupancy: 0, households: 0});
    assert.deepEqual(view.log.flashes.at(-1), ["ok", "取り消しました"]);
  });

  it("sent again after a lost answer is the same undo (its client id), and a refusal is shown", async () => {
    const refused = () => makeAnswer(409, {error: {code: "changed_since", message: "取り消せません"}}, null);
    const lost = () => makeAnswer(0, null, null);
    const {desk, view, calls} = setup({"/api/v1/checkins": [named], "/api/v1/undo": [lost, refused]});
    await desk.chooseCandidate({id: 1});
    const [offer] = view.log.undo;
    await offer.onUndo();
    assert.equal(view.log.undo.at(-1), "enabled");
    assert.deepEqual(view.log.flashes.at(-1), ["error", "つながりません"]);
    await offer.onUndo();
    const ids = calls.filter((c) => c.path === "/api/v1/undo").map((c) => c.body.client_id);
    assert.deepEqual(ids, ["client-2", "client-2"]);
    assert.equal(view.log.undo.at(-1), "hidden");
    assert.deepEqual(view.log.flashes.at(-1), ["error", "取り消せません"]);
  });

  it("is offered after a check-out, not after an answer that changed nothing", async () => {
    const left = () => makeAnswer(201, {stays: [{id: 11, person_id: 1}], shelter: {occupancy: 0, households: 0},
      person: {id: 1, family_name: "精華", given_name: "太郎"}}, null);
    const same = () => makeAnswer(200, {stays: [{id: 11, person_id: 1}], shelter: {occupancy: 1, households: 1},
      person: {id: 1, family_name: "精華", given_name: "太郎"}}, null);
    const {desk, view} = setup({"/api/v1/checkouts": [left], "/api/v1/checkins": [same], "/api/v1/shelters": [
      () => makeAnswer(200, {shelter: {}, items: [], counts: {}, total: 0, next: null}, null)]});
    await desk.checkout(1, "left");
    assert.equal(view.log.undo.length, 1);
    assert.equal(view.log.undo[0].text, "精華 太郎 さんの退所を取り消す");
    await desk.chooseCandidate({id: 1});
    assert.equal(view.log.undo.length, 1);
  });

  it("from the roster names the stay, and leaves the toast of the last operation alone", async () => {
    const roster = () => makeAnswer(200, {shelter: {occupancy: 0}, items: [], counts: {}, total: 0, next: null}, null);
    const {desk, view, calls} = setup({"/api/v1/undo": [undone], "/api/v1/shelters": [roster]});
    view.rosterShown = () => true;
    await desk.correctStay("11");
    const undo = calls.find((c) => c.path === "/api/v1/undo");
    assert.deepEqual(undo.body, {client_id: "client-1", stay_id: 11});
    assert.deepEqual(view.log.undo, []);
    assert.deepEqual(view.log.flashes.at(-1), ["ok", "取り消しました"]);
    assert.ok(calls.some((c) => c.path.startsWith("/api/v1/shelters/7/roster")), "the roster is drawn again");
  });
});

describe("a walk-in family", () => {
  const holder = {family_name: "岩田", given_name: "哲也", family_name_kana: "イワタ", given_name_kana: "テツヤ",
                  birth_date: "1975-04-01", sex: "male", address: "精華町光台7-43"};
  const wife = {given_name: "恵子", given_name_kana: "ケイコ", relationship: "妻", birth_date: "1977-05-06",
                sex: "female", needs: []};

  it("is one check-in: the holder, the family and the household in the answer", async () => {
    const {desk, calls} = setup({"/api/v1/checkins": [() => checkedIn(2)]});
    await desk.checkInWalkIn(holder, [wife]);
    const post = calls.find((c) => c.path === "/api/v1/checkins");
    assert.deepEqual(post.body, {shelter_id: SHELTER, client_id: "client-1", person: holder, family: [wife],
                                 include_household: true});
  });

  it("alone stays the plain walk-in body", async () => {
    const {desk, calls} = setup({"/api/v1/checkins": [() => checkedIn(1)]});
    await desk.checkInWalkIn(holder);
    assert.deepEqual(calls.at(-1).body, {shelter_id: SHELTER, client_id: "client-1", person: holder});
  });

  it("a member like someone registered shows the candidates, saying which member", async () => {
    const twin = () => makeAnswer(409, {error: {code: "possible_duplicate", message: "岩田 恵子 さんと同じ",
      member: "family[0]", candidates: [{id: 9}], hidden_matches: 0}}, null);
    const {desk, view} = setup({"/api/v1/checkins": [twin]});
    assert.equal(await desk.checkInWalkIn(holder, [wife]), null);
    assert.equal(view.log.candidates[0].member, "family[0]");
    assert.deepEqual(view.log.candidates[0].body.family, [wife]);
    assert.deepEqual(view.log.flashes.at(-1), ["error", "岩田 恵子 さんと同じ"]);
  });

  it("「家族を追加」 on a scanned household opens the walk-in form for that household, and joins it", async () => {
    const scanned = () => makeAnswer(200, {
      person: {id: 1, family_name: "岩田", given_name: "哲也", family_name_kana: "イワタ", address: "精華町光台7-43"},
      household: {id: 42, members: [{id: 1}]}}, null);
    const {desk, view, calls} = setup({"/api/v1/lookups": [scanned], "/api/v1/checkins": [() => checkedIn(1)]});
    await desk.handleScan(PAYLOAD);
    desk.addToHousehold();
    assert.deepEqual(view.log.walkIns, [{householdId: 42, name: "岩田 哲也",
      values: {family_name: "岩田", family_name_kana: "イワタ", address: "精華町光台7-43"}}]);
    assert.equal(desk.state.current, null); // the household view is closed: the next scan starts clean
    await desk.checkInWalkIn(holder, [], 42);
    assert.deepEqual(calls.at(-1).body.person, Object.assign({}, holder, {household_id: 42}));
    assert.equal(calls.at(-1).body.include_household, true);
  });

  it("「家族を追加」 without a household on screen does nothing", () => {
    const {desk, view} = setup({});
    desk.addToHousehold();
    assert.equal(view.log.walkIns.length, 0);
  });
});
