// The web page end to end in headless Chromium (Debian's chromium, driven by
// playwright-core): index the class fixtures, serve them, pick an image, see one column
// per model plus the fused one and the agreement table, check by screenshot that results
// are drawn, see each card name its folder (path and date on hover), trim the fused list with
// the cutoff slider, draw a box on the query to search by a region, click a result to search
// by it, change k and the models with answers arriving out of order, get a clear error for
// a file that is not an image, and see the duplicate groups (a mirrored copy among them).
//
//   node tests/web/browser_test.mjs IMGSEARCH_BINARY FIXTURE_DIR WORK_DIR
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

const [imgsearch, fixtures, work] = process.argv.slice(2);
if (!work) throw new Error("usage: browser_test.mjs IMGSEARCH_BINARY FIXTURE_DIR WORK_DIR");

function check(condition, message) {
  if (!condition) throw new Error("check failed: " + message);
  console.log("ok: " + message);
}

fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });
const images = path.join(work, "images");
const db = path.join(work, "db");
fs.cpSync(path.join(fixtures, "classes"), images, { recursive: true });
const indexed = spawnSync(imgsearch, ["index", images, "--db", db], { encoding: "utf8" });
// broken.jpg among the fixtures makes index exit 1 while indexing every other image.
check(indexed.status === 0 || indexed.status === 1, "imgsearch index ran: " + indexed.stderr);

// Starts `imgsearch serve` on a free port and resolves with its address.
function startServer() {
  const server = spawn(imgsearch, ["serve", "--db", db, "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    server.stdout.on("data", (chunk) => {
      out += chunk;
      const match = out.match(/on (http:\/\/[0-9.]+:\d+)/);
      if (match) resolve({ server, url: match[1] });
    });
    server.on("exit", (code) => reject(new Error("serve exited early with " + code)));
  });
}

const { server, url } = await startServer();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  // Every wait below is for a state of the page; this only bounds a hung run (CTest's own
  // limit is 180 s), generously so that a loaded machine is not a failure.
  page.setDefaultTimeout(60000);
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  // (Chromium logs every 4xx answer as a console error; the page handles those itself.)
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(m.text());
  });
  await page.goto(url + "/");
  await page.waitForFunction(() => document.querySelectorAll("#models input").length === 2);
  check((await page.textContent("#status")).includes("10 images"), "the page lists the models and images");

  // Pick an image: one column per model, a fused column, and the agreement table.
  await page.setInputFiles("#file", path.join(fixtures, "classes", "blue", "blue_1.png"));
  await page.waitForSelector(".column.fused .hit");
  const columns = await page.$$eval(".column", (cs) => cs.map((c) => c.dataset.model));
  check(JSON.stringify(columns) === JSON.stringify(["color_layout", "phash", "fused (RRF)"]),
        "columns per model and fused: " + columns);
  const perColumn = await page.$$eval(".column", (cs) => cs.map((c) => c.querySelectorAll(".hit").length));
  check(perColumn.every((n) => n === 8), "k = 8 results in each column: " + perColumn);
  const top = await page.getAttribute(".column[data-model=color_layout] .hit", "title");
  check(top.includes("blue/"), "colour layout's nearest image is a blue one: " + top);
  check((await page.$$("#agreement-table tr")).length === 2, "agreement table: header and one pair");
  await page.waitForFunction(() => [...document.querySelectorAll(".hit img, #query")]
      .every((img) => img.complete && img.naturalWidth > 0));
  check(true, "the query and every thumbnail loaded");

  // The screenshot shows results: many colours, most of the area drawn on.
  const shot = await page.locator("#columns").screenshot({ path: path.join(work, "results.png") });
  const picture = await page.evaluate(async (data) => {
    const img = new Image();
    img.src = "data:image/png;base64," + data;
    await img.decode();
    const canvas = document.createElement("canvas");
    canvas.width = img.width; canvas.height = img.height;
    const context = canvas.getContext("2d");
    context.drawImage(img, 0, 0);
    const pixels = context.getImageData(0, 0, img.width, img.height).data;
    const colours = new Set();
    let coloured = 0;
    for (let i = 0; i < pixels.length; i += 4) {
      colours.add((pixels[i] >> 3) << 10 | (pixels[i + 1] >> 3) << 5 | pixels[i + 2] >> 3);
      const [r, g, b] = [pixels[i], pixels[i + 1], pixels[i + 2]];
      if (Math.max(r, g, b) - Math.min(r, g, b) > 60) coloured++;
    }
    return { width: img.width, height: img.height, colours: colours.size, coloured: coloured / (pixels.length / 4) };
  }, shot.toString("base64"));
  check(picture.width > 500 && picture.height > 400, "results area is " + picture.width + "x" + picture.height);
  check(picture.colours > 40, "the screenshot has " + picture.colours + " colours (thumbnails drawn)");
  check(picture.coloured > 0.05, "saturated thumbnail pixels cover " + (picture.coloured * 100).toFixed(1) + "%");

  // Each card names the folder and the file; the full path and the date are on hover.
  const card = await page.$eval(".column[data-model=color_layout] .hit", (h) =>
    ({ name: h.querySelector(".name").textContent, title: h.title, path: h.dataset.path }));
  check(/^(blue|red|green)\/[a-z_0-9]+\.png$/.test(card.name), "the card names folder and file: " + card.name);
  check(card.title.startsWith(card.path) && card.path.startsWith("/") &&
        /modified \d{4}-\d\d-\d\d \d\d:\d\d/.test(card.title), "full path and date on hover: " + JSON.stringify(card.title));

  // The cutoff slider trims the fused list: fewer results, none scoring under the cutoff.
  // (Chromium does not show Playwright the body of a request carrying a file, so the
  // answer is checked, not the request.)
  await page.$eval("#cutoff", (s) => { s.value = "30"; s.dispatchEvent(new Event("change")); });
  await page.waitForFunction(() => document.querySelectorAll(".column.fused .hit").length < 8 &&
      document.querySelector("#columns").getAttribute("aria-busy") === "false");
  const cutoff = Number((await page.textContent("#cutoff-value")).replace("≥", "").trim());
  const scores = await page.$$eval(".column.fused .hit .meta", (ms) => ms.map((m) => Number(m.textContent.split("score ")[1])));
  check(scores.length >= 1 && scores.every((s) => s >= cutoff - 1e-4),
        "the cutoff slider keeps " + scores.length + " fused results, all scoring at least " + cutoff);
  await page.$eval("#cutoff", (s) => { s.value = "100"; s.dispatchEvent(new Event("change")); });
  await page.waitForFunction(() => document.querySelectorAll(".column.fused .hit").length === 8 &&
      document.querySelector("#columns").getAttribute("aria-busy") === "false");
  check(true, "the slider at the right end shows the whole list again");

  // A box drawn on the query searches by that region, in the picture's own pixels.
  const frame = await page.locator("#query").boundingBox();
  await page.mouse.move(frame.x + frame.width * 0.25, frame.y + frame.height * 0.25);
  await page.mouse.down();
  await page.mouse.move(frame.x + frame.width * 0.75, frame.y + frame.height * 0.75, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction(() => document.querySelector("#status").textContent.includes("by the region"));
  const box = (await page.textContent("#status")).match(/by the region (\d+),(\d+),(\d+),(\d+)/);
  check(box !== null, "the search was by a region: " + (box ? box.slice(1).join(",") : ""));
  const [x, y, w, h] = box.slice(1).map(Number);
  check(Math.abs(x - 20) <= 2 && Math.abs(y - 15) <= 2 && Math.abs(w - 40) <= 2 && Math.abs(h - 30) <= 2,
        "the box is in the 80x60 picture's pixels: " + [x, y, w, h]);
  check(await page.isVisible("#crop-box") && await page.isVisible("#clear-crop"), "the box stays drawn over the query");
  check((await page.$$(".column.fused .hit")).length > 0, "the region's results are drawn");

  // Click a result: the page searches by that image's id.
  const second = page.locator(".column[data-model=phash] .hit").nth(1);
  const clickedId = await second.getAttribute("data-id");
  await second.click();
  await page.waitForFunction((id) => document.querySelector("#query-label").textContent === "query: id:" + id, clickedId);
  const firstId = await page.getAttribute(".column[data-model=phash] .hit", "data-id");
  check(firstId === clickedId, "searching by result " + clickedId + " finds it first");

  // Fewer results, one model only, and only the latest answer is drawn. Changing k and
  // then unticking a model fires several searches (k's change, and again when k loses
  // focus, then the box's); those that still ask for phash are held back until the last
  // one has been answered, so a page that drew whichever answer came last would end on
  // stale columns.
  const held = [];
  let releaseHeld, noteHeld;
  const latestAnswered = new Promise((resolve) => { releaseHeld = resolve; });
  const firstHeld = new Promise((resolve) => { noteHeld = resolve; });
  await page.route("**/api/search", async (route) => {
    if ((route.request().postData() || "").includes("phash")) {
      held.push(route);
      noteHeld();
      await latestAnswered;
      await route.continue().catch(() => {});  // the page may have aborted it meanwhile
      return;
    }
    await route.fulfill({ response: await route.fetch() });
    releaseHeld();
  });
  await page.fill("#k", "3");
  await page.dispatchEvent("#k", "change");
  await firstHeld;  // that search is on its way (held) when the box is unticked
  await page.uncheck("#models input[value=phash]");
  await latestAnswered;
  await page.waitForFunction(() => document.querySelector("#columns").getAttribute("aria-busy") === "false");
  await page.unroute("**/api/search");
  const onlyColumns = await page.$$eval(".column", (cs) => cs.map((c) => [c.dataset.model, c.querySelectorAll(".hit").length]));
  check(held.length >= 1, held.length + " earlier search(es) held back until the latest was answered");
  check(JSON.stringify(onlyColumns) === JSON.stringify([["color_layout", 3]]),
        "only the latest answer is drawn, one model with k = 3 results, no fusion: " + onlyColumns);

  // A file that is not an image: a clear error on the page, nothing else changes.
  await page.setInputFiles("#file", { name: "notes.png", mimeType: "image/png", buffer: Buffer.from("plain text") });
  await page.waitForSelector("#status.error");
  const error = await page.textContent("#status");
  check(error.includes("not an image"), "bad file reported: " + error);
  // The duplicate groups: the byte-identical copy of red_0, and green_0 with green_2, which
  // is green_0 flipped top to bottom (its rectangle moves from rows 10-30 to 30-50 of a flat
  // green) and so a mirrored copy; one image of each group marked to keep.
  await page.click("#show-duplicates");
  await page.waitForSelector(".column.group .hit");
  const groups = await page.$$eval(".column.group", (cs) => cs.map((c) =>
    [...c.querySelectorAll(".hit")].map((h) => h.dataset.path.split("/").pop())));
  check(JSON.stringify(groups.map((g) => g.sort()).sort()) ===
        JSON.stringify([["copy_of_red_0.png", "red_0.png"], ["green_0.png", "green_2.png"]]),
        "two duplicate groups, red_0 and its copy, green_0 and its mirror image: " + JSON.stringify(groups));
  const keep = await page.$$eval(".column.group .hit .meta", (ms) => ms.filter((m) => m.textContent.includes("keep: largest")).length);
  check(keep === 2, "one image of each group marked to keep");
  check((await page.textContent("#duplicates-summary")).includes("among 10 images"), "the summary counts the images");
  // The page of `imgsearch eval --html`: one curve per model and for the fusion.
  const evalPage = path.join(work, "eval.html");
  const evaluated = spawnSync(imgsearch, ["eval", images, "--db", db, "-k", "3", "--html", evalPage],
                              { encoding: "utf8" });
  check(evaluated.status === 0, "imgsearch eval --html ran: " + evaluated.stderr);
  const report = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  report.on("pageerror", (e) => problems.push(e.message));
  await report.goto("file://" + evalPage);
  const curves = await report.$$eval("#pr-curves .curve", (cs) => cs.map((c) =>
    [c.dataset.model, c.getAttribute("points").trim().split(" ").length, c.getBBox().width > 0 || c.getBBox().height > 0]));
  check(JSON.stringify(curves) === JSON.stringify([["color_layout", 3, true], ["phash", 3, true], ["fused", 3, true]]),
        "one drawn curve per model and the fusion, a point per rank: " + JSON.stringify(curves));
  check((await report.$$("#class-map .bar")).length === 9, "a bar per class and model");
  check((await report.$$("#agreement .cell")).length === 4, "a 2 x 2 agreement heat map");
  const thumbnails = await report.$$eval(".query img", (is) => is.filter((i) => i.complete && i.naturalWidth > 0).length);
  check(thumbnails >= 7, thumbnails + " thumbnails of the queries the models disagree on");
  check(problems.length === 0, "no script errors in the page: " + problems.join("; "));
} finally {
  await browser.close();
  server.kill("SIGTERM");
}
const code = await new Promise((resolve) => server.on("exit", resolve));
check(code === 0, "serve stopped cleanly on SIGTERM");
