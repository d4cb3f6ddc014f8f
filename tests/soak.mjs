// The soak: `imgsearch serve` under mixed load (image uploads, Milvus inserts, upserts and
// deletes, searches of both kinds), SIGKILLed and restarted every few seconds. Every
// answer that acknowledged a write is remembered; at the end every acknowledged write
// must be there, and every write whose answer was lost to a kill must be there entirely
// or not at all. Run by tests/soak.sh; not part of CI.
//
//   node tests/soak.mjs IMGSEARCH_BINARY WORK_DIR SECONDS [MAX_SECONDS_BETWEEN_KILLS]
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const [imgsearch, work, secondsArg, killEveryArg] = process.argv.slice(2);
if (!secondsArg) throw new Error("usage: soak.mjs IMGSEARCH_BINARY WORK_DIR SECONDS [KILL_EVERY]");
const seconds = Number(secondsArg);
const maxSecondsBetweenKills = Number(killEveryArg || 3);
const db = path.join(work, "lib");
const kDimension = 8;
const kWorkers = 4;
const kIdsPerWorker = 40;

fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });

// ---- the server, killed and restarted on one port

let url = null;  // null while the server is down
let server = null;
let port = 0;
const stats = { kills: 0, starts: 0, acked: 0, lost: 0, refused: 0, searches: 0, uploads: 0 };

function startServer() {
  const child = spawn(imgsearch, ["serve", "--db", db, "--port", String(port)], {
    stdio: ["ignore", "pipe", fs.openSync(path.join(work, "serve.log"), "a")],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const match = out.match(/on http:\/\/([0-9.]+):(\d+)/);
      if (match) {
        port = Number(match[2]);
        stats.starts++;
        resolve(child);
      }
    });
    child.on("exit", (code, signal) => {
      if (!out.includes("serving")) reject(new Error(`serve exited with ${code ?? signal} before serving`));
    });
  });
}

async function startServerWithRetries() {
  for (let attempt = 0; ; attempt++) {
    try {
      return await startServer();
    } catch (error) {
      // The port of the killed server can be taken for a moment; anything else is fatal.
      if (attempt >= 50) throw error;
      await sleep(100);
    }
  }
}

async function killAndRestart() {
  url = null;
  const dying = server;
  const exited = new Promise((resolve) => dying.on("exit", resolve));
  dying.kill("SIGKILL");
  await exited;
  stats.kills++;
  server = await startServerWithRetries();
  url = `http://127.0.0.1:${port}`;
}

// ---- requests: acknowledged, refused, or lost (no answer: the server was killed)

const kAcked = "acked", kRefused = "refused", kLost = "lost";

async function waitForServer() {
  while (url === null) await sleep(20);
  return url;
}

async function request(route, body, isForm = false) {
  const base = await waitForServer();
  let response;
  try {
    response = await fetch(base + route, isForm
      ? { method: "POST", body }
      : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  } catch {
    stats.lost++;
    return { outcome: kLost };
  }
  let answer;
  try {
    answer = await response.json();
  } catch {
    stats.lost++;
    return { outcome: kLost };  // killed while answering
  }
  const ok = response.status < 300 && (answer.code === undefined || answer.code === 0);
  if (!ok) {
    stats.refused++;
    if (response.status >= 500 && answer.code === undefined) {
      throw new Error(`${route}: internal error ${JSON.stringify(answer)}`);
    }
    return { outcome: kRefused, answer };
  }
  stats.acked++;
  return { outcome: kAcked, answer };
}

// ---- the Milvus side: each worker owns its ids, so its writes to one id are ordered

// id -> list of states it may be in; a state is null (absent) or the version written.
const possible = new Map();

function record(id, state, outcome) {
  if (outcome === kAcked) possible.set(id, [state]);
  else if (outcome === kLost) possible.get(id).push(state);
  // refused: nothing changed
}

function vectorOf(id, version) {
  const v = new Array(kDimension).fill(0);
  v[0] = id;
  v[1] = version;
  v[2 + (id % (kDimension - 2))] = 1;
  return v;
}

async function milvusWorker(worker, deadline) {
  const ids = [];
  for (let i = 0; i < kIdsPerWorker; i++) ids.push(1 + worker + i * kWorkers);
  for (const id of ids) possible.set(id, [null]);
  let version = 0;
  while (Date.now() < deadline) {
    const id = ids[Math.floor(Math.random() * ids.length)];
    const roll = Math.random();
    version++;
    if (roll < 0.35) {
      const { outcome } = await request("/v2/vectordb/entities/upsert", {
        collectionName: "soak", data: [{ id, vector: vectorOf(id, version), version }] });
      record(id, version, outcome);
    } else if (roll < 0.5) {
      const current = possible.get(id);
      if (current.length !== 1 || current[0] !== null) continue;  // insert only where absent
      const { outcome } = await request("/v2/vectordb/entities/insert", {
        collectionName: "soak", data: [{ id, vector: vectorOf(id, version), version }] });
      record(id, version, outcome);
    } else if (roll < 0.65) {
      const { outcome } = await request("/v2/vectordb/entities/delete", {
        collectionName: "soak", filter: `id in [${id}]` });
      record(id, null, outcome);
    } else {
      await searchAndCheck(id);
    }
  }
}

// A search near a row this worker owns: when the row is certainly there (one possible
// state), it must come first, with its own version.
async function searchAndCheck(id) {
  const states = possible.get(id);
  const certain = states.length === 1 && states[0] !== null ? states[0] : null;
  const vector = certain === null ? vectorOf(id, 0) : vectorOf(id, certain);
  const { outcome, answer } = await request("/v2/vectordb/entities/search", {
    collectionName: "soak", data: [vector], limit: 3, outputFields: ["version"] });
  if (outcome !== kAcked) return;
  stats.searches++;
  // Another request for this id cannot be in flight: this worker is the only writer.
  if (certain !== null && possible.get(id).length === 1 && possible.get(id)[0] === certain) {
    const top = answer.data[0];
    if (!top || top.id !== id || top.version !== certain) {
      throw new Error(`search for row ${id} (version ${certain}) answered ${JSON.stringify(answer.data)}`);
    }
  }
}

// ---- uploads: each a distinct BMP; acknowledged ones must all be there at the end

function bmp(seed) {
  const width = 16, height = 12, rowBytes = width * 3;  // 48: a multiple of 4, no padding
  const pixels = Buffer.alloc(rowBytes * height);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < pixels.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    pixels[i] = x >>> 24;
  }
  const header = Buffer.alloc(54);
  header.write("BM", 0);
  header.writeUInt32LE(54 + pixels.length, 2);
  header.writeUInt32LE(54, 10);
  header.writeUInt32LE(40, 14);
  header.writeInt32LE(width, 18);
  header.writeInt32LE(height, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(24, 28);
  header.writeUInt32LE(pixels.length, 34);
  return Buffer.concat([header, pixels]);
}

const uploaded = new Map();  // id -> the uploaded bytes (base64)

async function uploadWorker(deadline) {
  for (let seed = 1; Date.now() < deadline; seed++) {
    const bytes = bmp(seed);
    const form = new FormData();
    form.append("image", new Blob([bytes]), `soak-${seed}.bmp`);
    form.append("fields", JSON.stringify({ seed }));
    const { outcome, answer } = await request("/api/images", form, true);
    if (outcome === kAcked) {
      uploaded.set(answer.id, bytes.toString("base64"));
      stats.uploads++;
    }
    if (seed % 5 === 0) {
      const query = new FormData();
      query.append("image", new Blob([bytes]), "query.bmp");
      const { outcome: searched, answer: found } = await request("/api/search", query, true);
      if (searched === kAcked && outcome === kAcked) {
        const models = Object.values(found.results);
        if (!models.some((hits) => hits.some((hit) => hit.id === answer.id))) {
          throw new Error(`an acknowledged upload (id ${answer.id}) is not found by its own picture`);
        }
      }
    }
  }
}

// ---- verification after the last kill

async function verify() {
  const base = await waitForServer();
  const ids = [...possible.keys()];
  const { outcome, answer } = await request("/v2/vectordb/entities/get", {
    collectionName: "soak", id: ids, outputFields: ["version", "vector"] });
  if (outcome !== kAcked) throw new Error("entities/get failed at the end: " + JSON.stringify(answer));
  const found = new Map(answer.data.map((row) => [row.id, row]));
  let checked = 0;
  for (const [id, states] of possible) {
    const row = found.get(id);
    const state = row ? row.version : null;
    if (!states.includes(state)) {
      throw new Error(`row ${id} is ${JSON.stringify(state)}, expected one of ${JSON.stringify(states)}`);
    }
    if (row && JSON.stringify(row.vector) !== JSON.stringify(vectorOf(id, row.version))) {
      throw new Error(`row ${id} has version ${row.version} but another version's vector`);
    }
    checked++;
  }
  for (const [id, bytes] of uploaded) {
    const response = await fetch(`${base}/api/images/${id}`);
    const body = Buffer.from(await response.arrayBuffer()).toString("base64");
    if (response.status !== 200 || body !== bytes) {
      throw new Error(`acknowledged upload ${id} is ${response.status === 200 ? "different" : "missing"}`);
    }
  }
  return checked;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function main() {
  server = await startServerWithRetries();
  url = `http://127.0.0.1:${port}`;
  const created = await request("/v2/vectordb/collections/create", {
    collectionName: "soak",
    schema: { autoID: false, fields: [
      { fieldName: "id", dataType: "Int64", isPrimary: true },
      { fieldName: "vector", dataType: "FloatVector", elementTypeParams: { dim: String(kDimension) } },
      { fieldName: "version", dataType: "Int64" }] },
    indexParams: [{ fieldName: "vector", metricType: "L2", params: { index_type: "HNSW", M: 8 } }],
  });
  if (created.outcome !== kAcked) throw new Error("cannot create the collection: " + JSON.stringify(created));

  const deadline = Date.now() + seconds * 1000;
  const workers = [uploadWorker(deadline)];
  for (let w = 0; w < kWorkers; w++) workers.push(milvusWorker(w, deadline));
  const killer = (async () => {
    while (Date.now() < deadline) {
      await sleep(200 + Math.random() * (maxSecondsBetweenKills * 1000 - 200));
      if (Date.now() < deadline) await killAndRestart();
    }
  })();
  await Promise.all([...workers, killer]);
  await killAndRestart();  // the last acknowledged writes must survive one more kill
  const rows = await verify();
  server.kill("SIGTERM");
  console.log(`PASS: ${stats.kills} kills, ${stats.acked} acknowledged requests ` +
    `(${stats.uploads} uploads, ${stats.searches} searches), ${stats.lost} answers lost to kills, ` +
    `${stats.refused} refused; ${rows} rows and ${uploaded.size} uploads verified`);
}

main().catch((error) => {
  console.error("FAIL: " + (error.stack || error));
  if (server) server.kill("SIGKILL");
  process.exit(1);
});
