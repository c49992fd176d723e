// The POA network dashboard: reads the feed's frames ({"agent_id", "data": {"type", "body"}})
// from the page's socket and keeps a table, a summary and two charts up to date.
// Plain JavaScript and hand-drawn SVG; agent data only ever goes in as text, never as HTML.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("dashboard-config").textContent);
  const SVG = "http://www.w3.org/2000/svg";
  const BLOCKS_CHARTED = 40;
  const LATENCY_POINTS = 60;
  const COLORS = ["#5aa9ff", "#3fcf8e", "#f0b94a", "#c77dff", "#ff7b72", "#4dd0e1", "#ffa657", "#a5d6a7"];

  const agents = new Map(); // agent_id -> state
  const blocks = new Map(); // block number -> timestamp (seconds), network-wide
  let bestBlock = null; // {number, timestamp, receivedAt}
  let renderQueued = false;

  function agent(id) {
    let state = agents.get(id);
    if (!state) {
      state = {
        id: id, color: COLORS[agents.size % COLORS.length], info: null, block: null, blockTime: null,
        pending: null, stats: null, latency: null, latencies: [], lastSeen: null, active: null,
      };
      agents.set(id, state);
    }
    return state;
  }

  function quantity(value) {
    // Numbers may come as JSON numbers, "0x" hex strings or decimal strings.
    if (typeof value === "number") return value;
    if (typeof value === "string" && value !== "") {
      const parsed = value.startsWith("0x") ? parseInt(value, 16) : Number(value);
      return Number.isFinite(parsed) ? parsed : null;
    }
    return null;
  }

  function noteBlock(body) {
    const number = quantity(body && body.number);
    const timestamp = quantity(body && body.timestamp);
    if (number === null) return null;
    if (timestamp !== null) blocks.set(number, timestamp);
    if (blocks.size > 4 * BLOCKS_CHARTED) {
      const oldest = [...blocks.keys()].sort((a, b) => a - b).slice(0, blocks.size - 2 * BLOCKS_CHARTED);
      oldest.forEach((key) => blocks.delete(key));
    }
    if (!bestBlock || number > bestBlock.number) {
      bestBlock = { number: number, timestamp: timestamp, receivedAt: Date.now() };
    }
    return { number: number, timestamp: timestamp };
  }

  const handlers = {
    information(state, body) { state.info = body; },
    block(state, body) {
      const previous = state.block;
      const block = noteBlock(body);
      if (!block) return;
      if (previous && block.number > previous.number && block.timestamp !== null && previous.timestamp !== null) {
        state.blockTime = (block.timestamp - previous.timestamp) / (block.number - previous.number);
      }
      state.block = block;
    },
    history(state, body) { (body && Array.isArray(body.history) ? body.history : []).forEach(noteBlock); },
    pending(state, body) { state.pending = quantity(body && body.pending); },
    statistics(state, body) {
      state.stats = body;
      state.active = body ? body.active === true : null;
    },
    latency(state, body) {
      const value = quantity(body && body.latency);
      if (value === null) return;
      state.latency = value;
      state.latencies.push(value);
      if (state.latencies.length > LATENCY_POINTS) state.latencies.shift();
    },
  };

  function onFrame(text) {
    let frame;
    try { frame = JSON.parse(text); } catch (error) { return; }
    if (!frame || typeof frame.agent_id !== "string" || !frame.data) return;
    const state = agent(frame.agent_id);
    const handler = handlers[frame.data.type];
    if (handler) handler(state, frame.data.body || {});
    const inactiveNotice = frame.data.type === "statistics" && frame.data.body && frame.data.body.active === false
      && frame.data.body.uptime === null;
    if (!inactiveNotice) state.lastSeen = Date.now();
    queueRender();
  }

  // Rendering.

  function queueRender() {
    if (!renderQueued) {
      renderQueued = true;
      requestAnimationFrame(() => { renderQueued = false; render(); });
    }
  }

  function text(element, value) {
    if (element.textContent !== value) element.textContent = value;
  }

  function seconds(value) {
    if (value === null || value === undefined || !Number.isFinite(value)) return "–";
    if (value < 60) return `${Math.max(0, Math.round(value))} s`;
    if (value < 3600) return `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`;
    return `${Math.floor(value / 3600)} h ${Math.floor((value % 3600) / 60)} min`;
  }

  function ageClass(age) {
    if (age === null) return "";
    return age < 20 ? "fresh" : age < 60 ? "aging" : "old";
  }

  function gwei(wei) {
    const value = quantity(wei);
    if (value === null) return "–";
    return `${(value / 1e9).toLocaleString(undefined, { maximumFractionDigits: 2 })} gwei`;
  }

  function isActive(state) {
    return state.active === true;
  }

  function cell(row, index, value, className) {
    const td = row.cells[index];
    text(td, value);
    td.className = className || td.dataset.base || "";
  }

  function rowFor(state) {
    let row = document.getElementById(`agent-${state.id}`);
    if (!row) {
      row = document.createElement("tr");
      row.id = `agent-${state.id}`;
      row.dataset.agent = state.id;
      const nums = [2, 3, 4, 5, 6, 7, 8, 10];
      for (let index = 0; index < 12; index += 1) {
        const td = document.createElement("td");
        td.dataset.base = index === 0 ? "name" : nums.includes(index) ? "num" : "";
        td.className = td.dataset.base;
        row.appendChild(td);
      }
      const name = row.cells[0];
      name.appendChild(document.createElement("strong"));
      name.appendChild(document.createElement("small"));
      const pill = document.createElement("span");
      row.cells[11].appendChild(pill);
    }
    return row;
  }

  function renderRow(state, now) {
    const row = rowFor(state);
    const info = state.info || {};
    const stats = state.stats || {};
    const name = row.cells[0];
    text(name.firstChild, info.name || state.id);
    text(name.lastChild, info.name && info.name !== state.id ? state.id : (info.node || ""));
    cell(row, 1, info.client ? `v${info.client}` : "–");
    const block = state.block;
    cell(row, 2, block ? `#${block.number.toLocaleString("en-US")}` : "–", "num block-number");
    const age = block && block.timestamp !== null ? now / 1000 - block.timestamp : null;
    cell(row, 3, seconds(age), `num ${ageClass(age)}`);
    cell(row, 4, state.blockTime === null ? "–" : `${state.blockTime.toFixed(1)} s`);
    cell(row, 5, stats.peers === undefined || stats.peers === null ? "–" : String(stats.peers));
    cell(row, 6, state.pending === null ? "–" : String(state.pending));
    cell(row, 7, state.latency === null ? "–" : `${state.latency} ms`);
    cell(row, 8, gwei(stats.gasPrice));
    cell(row, 9, stats.mining === true ? "yes" : stats.mining === false ? "no" : "–");
    const seen = state.lastSeen === null ? null : (now - state.lastSeen) / 1000;
    cell(row, 10, seen === null ? "–" : `${seconds(seen)} ago`, `num ${ageClass(seen)}`);
    const pill = row.cells[11].firstChild;
    const status = state.active === null ? "unknown" : isActive(state) ? "active" : "inactive";
    text(pill, status);
    pill.className = `status ${status}`;
    row.className = status === "inactive" ? "inactive" : "";
    row.dataset.status = status;
    return row;
  }

  function renderTable(now) {
    const body = document.querySelector("#nodes tbody");
    const ordered = [...agents.values()].sort((a, b) => {
      if (isActive(a) !== isActive(b)) return isActive(a) ? -1 : 1;
      const nameA = (a.info && a.info.name) || a.id;
      const nameB = (b.info && b.info.name) || b.id;
      return nameA.localeCompare(nameB);
    });
    ordered.forEach((state, index) => {
      const row = renderRow(state, now);
      if (body.children[index] !== row) body.insertBefore(row, body.children[index] || null);
    });
    document.getElementById("empty").hidden = agents.size > 0;
  }

  function recentBlockTimes() {
    const numbers = [...blocks.keys()].sort((a, b) => a - b).slice(-(BLOCKS_CHARTED + 1));
    const times = [];
    for (let index = 1; index < numbers.length; index += 1) {
      const number = numbers[index];
      const previous = numbers[index - 1];
      times.push({ number: number, seconds: (blocks.get(number) - blocks.get(previous)) / (number - previous) });
    }
    return times;
  }

  function renderSummary(now, times) {
    text(document.getElementById("best-block"), bestBlock ? `#${bestBlock.number.toLocaleString("en-US")}` : "–");
    const age = bestBlock && bestBlock.timestamp !== null ? now / 1000 - bestBlock.timestamp : null;
    text(document.getElementById("best-block-age"), age === null ? "" : `${seconds(age)} ago`);
    const average = times.length ? times.reduce((sum, t) => sum + t.seconds, 0) / times.length : null;
    text(document.getElementById("avg-block-time"), average === null ? "–" : `${average.toFixed(1)} s`);
    const states = [...agents.values()];
    const active = states.filter(isActive);
    text(document.getElementById("active-nodes"), agents.size ? `${active.length} / ${agents.size}` : "–");
    text(document.getElementById("known-nodes"), agents.size ? `${agents.size - active.length} inactive` : "");
    const latencies = active.map((s) => s.latency).filter((v) => v !== null);
    const meanLatency = latencies.length ? latencies.reduce((a, b) => a + b, 0) / latencies.length : null;
    text(document.getElementById("avg-latency"), meanLatency === null ? "–" : `${Math.round(meanLatency)} ms`);
  }

  function svgElement(name, attributes, content) {
    const element = document.createElementNS(SVG, name);
    Object.entries(attributes).forEach(([key, value]) => element.setAttribute(key, value));
    if (content !== undefined) element.textContent = content;
    return element;
  }

  function axes(svg, maximum, unit) {
    svg.appendChild(svgElement("line", { x1: 40, y1: 160, x2: 600, y2: 160, class: "axis" }));
    [0, 0.5, 1].forEach((share) => {
      const y = 160 - share * 150;
      svg.appendChild(svgElement("line", { x1: 40, y1: y, x2: 600, y2: y, class: "axis", "stroke-dasharray": "2 4" }));
      const label = maximum * share;
      svg.appendChild(svgElement("text", { x: 34, y: y + 3, "text-anchor": "end", class: "tick" },
        `${label >= 10 ? Math.round(label) : label.toFixed(1)}${unit}`));
    });
  }

  function niceMaximum(value) {
    if (!(value > 0)) return 1;
    const magnitude = 10 ** Math.floor(Math.log10(value));
    return [1, 2, 5, 10].map((step) => step * magnitude).find((step) => step >= value);
  }

  function renderBlockTimes(times) {
    const svg = document.getElementById("block-time-chart");
    svg.replaceChildren();
    const maximum = niceMaximum(Math.max(0, ...times.map((t) => t.seconds)));
    axes(svg, maximum, "s");
    const slot = 560 / BLOCKS_CHARTED;
    const average = times.length ? times.reduce((sum, t) => sum + t.seconds, 0) / times.length : 0;
    times.forEach((t, index) => {
      const height = Math.max(1, (Math.max(0, t.seconds) / maximum) * 150);
      const x = 40 + (BLOCKS_CHARTED - times.length + index) * slot + 1;
      const bar = svgElement("rect", {
        x: x, y: 160 - height, width: Math.max(1, slot - 2), height: height,
        class: t.seconds > 1.5 * average ? "bar slow" : "bar",
      });
      bar.appendChild(svgElement("title", {}, `#${t.number}: ${t.seconds.toFixed(1)} s`));
      svg.appendChild(bar);
    });
    if (times.length) {
      svg.appendChild(svgElement("text", { x: 600, y: 175, "text-anchor": "end", class: "tick" },
        `#${times[times.length - 1].number}`));
      const first = 40 + (BLOCKS_CHARTED - times.length) * slot + 1;
      svg.appendChild(svgElement("text", { x: first, y: 175, class: "tick" }, `#${times[0].number}`));
    }
  }

  function renderLatency() {
    const svg = document.getElementById("latency-chart");
    const legend = document.getElementById("latency-legend");
    svg.replaceChildren();
    legend.replaceChildren();
    const charted = [...agents.values()].filter((s) => s.latencies.length);
    const maximum = niceMaximum(Math.max(0, ...charted.flatMap((s) => s.latencies)));
    axes(svg, maximum, "");
    const step = 560 / (LATENCY_POINTS - 1);
    charted.forEach((state) => {
      const offset = LATENCY_POINTS - state.latencies.length;
      const points = state.latencies.map((value, index) =>
        `${(40 + (offset + index) * step).toFixed(1)},${(160 - (value / maximum) * 150).toFixed(1)}`);
      svg.appendChild(svgElement("polyline", {
        points: points.join(" "), fill: "none", stroke: state.color, "stroke-width": 2,
        "stroke-opacity": isActive(state) ? 1 : 0.35, "vector-effect": "non-scaling-stroke",
      }));
      const item = document.createElement("span");
      const swatch = document.createElement("i");
      swatch.style.background = state.color;
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(`${(state.info && state.info.name) || state.id} ${state.latency} ms`));
      legend.appendChild(item);
    });
  }

  function render() {
    const now = Date.now();
    const times = recentBlockTimes();
    renderTable(now);
    renderSummary(now, times);
    renderBlockTimes(times);
    renderLatency();
  }

  // The socket: reconnects after a drop and starts over from the catch-up.

  const status = document.getElementById("connection");

  function showConnection(kind, label) {
    status.className = `connection ${kind}`;
    text(status, label);
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}${config.feedPath}`);
    socket.onopen = () => showConnection("live", "live");
    socket.onmessage = (event) => onFrame(event.data);
    socket.onclose = () => {
      showConnection("down", "disconnected, retrying…");
      setTimeout(connect, 2000);
    };
  }

  setInterval(render, 1000); // ages and "last seen" move on between frames
  render();
  connect();
})();
