import assert from "node:assert/strict";
import {readFileSync} from "node:fs";
import {describe, it} from "node:test";
import {CROP, MAX_SIDE, cropFor} from "../../evac/static/desk/view/camera.js";

describe("the camera's crop", () => {
  it("hands the decoder the central 60 % of a 720p picture at 640 px", () => {
    assert.deepEqual(cropFor(1280, 720), {sx: 256, sy: 144, sw: 768, sh: 432, dw: 640, dh: 360});
  });

  it("never enlarges a small picture and keeps a portrait one upright", () => {
    assert.deepEqual(cropFor(640, 480), {sx: 128, sy: 96, sw: 384, sh: 288, dw: 384, dh: 288});
    const portrait = cropFor(720, 1280);
    assert.equal(portrait.dh, MAX_SIDE);
    assert.ok(portrait.dw < portrait.dh);
  });

  it("is the part the aiming frame shows (desk.css) and the bench measures (camera_frames.py)", () => {
    const css = readFileSync(new URL("../../evac/static/desk/desk.css", import.meta.url), "utf8");
    const aim = css.match(/\.camera-aim \{[^}]*\}/)[0];
    const inset = `${Math.round((1 - CROP) / 2 * 100)}%`, size = `${Math.round(CROP * 100)}%`;
    assert.match(aim, new RegExp(`left: ${inset}; top: ${inset}; width: ${size}; height: ${size}`));
    const bench = readFileSync(new URL("../../bench/camera_frames.py", import.meta.url), "utf8");
    assert.match(bench, new RegExp(`fraction: float = ${CROP}, longest: int = ${MAX_SIDE}`));
  });
});
