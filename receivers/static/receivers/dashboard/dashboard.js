// The POA network dashboard: reads the feed's frames ({"agent_id", "data": {"type", "body"}})
// from the page's socket and keeps a table, a summary and the charts up to date. The network
// view (propagation, uptime, recent blocks, alerts) comes from the page's JSON document, read on
// open and every few seconds; a click on a row opens that node's stored statistics.
// Plain JavaScript and hand-drawn SVG; agent data only ever goes in as text, never as HTML.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("dashboard-config").textContent);
  const SVG = "http://www.w3.org/2000/svg";
  const BLOCKS_CHARTED = 40;
  const LATENCY_POINTS = 60;
  const NETWORK_REFRESH_MS = 3000;
  const COLUMNS = 15;
  const COLORS = ["#5aa9ff", "#3fcf8e", "#f0b94a", "#c77dff", "#ff7b72", "#4dd0e1", "#ffa657", "#a5d6a7"];

  const agents = new Map(); // agent_id -> state
  const blocks = new Map(); // block number -> timestamp (seconds), network-wide
  let bestBlock = null; // {number, timestamp}
  let view = { network: null, nodes: new Map(), alerts: [], events: [] }; // from the network document
  let selected = null; // the node shown in the detail view
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
    if (typeof value === "number") return Number.isFinite(value) ? value : null;
    if (typeof value === "string" && value !== "") {
      const parsed = value.startsWith("0x") ? parseInt(value, 16) : Number(value);
      return Number.isFinite(parsed) ? parsed : null;
    }
    return null;
  }

  function displayName(state) {
    // Agents may send anything as a name: only a non-empty string is one.
    const name = state.info && state.info.name;
    return typeof name === "string" && name !== "" ? name : state.id;
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
    if (!bestBlock || number > bestBlock.number) bestBlock = { number: number, timestamp: timestamp };
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
    if (!frame || typeof frame.agent_id !== "string" || !frame.data || typeof frame.data !== "object") return;
    const state = agent(frame.agent_id);
    const handler = handlers[frame.data.type];
    const body = frame.data.body && typeof frame.data.body === "object" ? frame.data.body : {};
    if (handler) handler(state, body);
    const inactiveNotice = frame.data.type === "statistics" && body.active === false && body.uptime === null;
    if (!inactiveNotice) state.lastSeen = Date.now();
    queueRender();
  }

  // The network document: recent blocks on open, then propagation, uptime and alerts.

  function onNetwork(document_) {
    (document_.blocks || []).forEach((block) => noteBlock(block));
    view = {
      network: document_.network,
      nodes: new Map((document_.nodes || []).map((node) => [node.id, node])),
      alerts: document_.alerts || [],
      events: document_.events || [],
    };
    queueRender();
  }

  function fetchNetwork() {
    return fetch(config.networkPath, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : null))
      .then((document_) => { if (document_) onNetwork(document_); })
      .catch(() => {});
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

  function ms(value) {
    return value === null || value === undefined ? "–" : `${Math.round(value)} ms`;
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

  function alertsOf(id) {
    return view.alerts.filter((alert) => alert.node === id);
  }

  function rowFor(state) {
    let row = document.getElementById(`agent-${state.id}`);
    if (!row) {
      row = document.createElement("tr");
      row.id = `agent-${state.id}`;
      row.dataset.agent = state.id;
      const nums = [2, 3, 4, 5, 6, 7, 8, 9, 11, 12];
      for (let index = 0; index < COLUMNS; index += 1) {
        const td = document.createElement("td");
        td.dataset.base = index === 0 ? "name" : nums.includes(index) ? "num" : "";
        td.className = td.dataset.base;
        row.appendChild(td);
      }
      row.cells[0].appendChild(document.createElement("strong"));
      row.cells[0].appendChild(document.createElement("small"));
      row.cells[13].appendChild(document.createElement("span"));
      row.addEventListener("click", () => { location.hash = `node=${encodeURIComponent(state.id)}`; });
    }
    return row;
  }

  function renderAlertCell(td, id) {
    const alerts = alertsOf(id);
    const key = alerts.map((a) => `${a.alert}:${a.state}`).join(",");
    if (td.dataset.key === key) return;
    td.dataset.key = key;
    td.replaceChildren(...alerts.map((alert) => {
      const pill = document.createElement("span");
      pill.className = `alert ${alert.state}`;
      pill.textContent = alert.alert;
      pill.title = alert.summary;
      return pill;
    }));
    if (!alerts.length) td.textContent = "–";
  }

  function renderRow(state, now) {
    const row = rowFor(state);
    const info = state.info || {};
    const stats = state.stats || {};
    const node = view.nodes.get(state.id) || null;
    const name = row.cells[0];
    text(name.firstChild, displayName(state));
    const detail = typeof info.node === "string" ? info.node : "";
    text(name.lastChild, displayName(state) !== state.id ? state.id : detail);
    cell(row, 1, typeof info.client === "string" && info.client ? `v${info.client}` : "–");
    const block = state.block;
    cell(row, 2, block ? `#${block.number.toLocaleString("en-US")}` : "–", "num block-number");
    const age = block && block.timestamp !== null ? now / 1000 - block.timestamp : null;
    cell(row, 3, seconds(age), `num ${ageClass(age)}`);
    cell(row, 4, state.blockTime === null ? "–" : `${state.blockTime.toFixed(1)} s`);
    const propagation = node && node.propagation;
    cell(row, 5, propagation && propagation.last_ms !== null ? ms(propagation.last_ms) : "–", "num propagation");
    row.cells[5].title = propagation && propagation.average_ms !== null
      ? `average ${ms(propagation.average_ms)} over ${propagation.blocks} blocks` : "";
    cell(row, 6, stats.peers === undefined || stats.peers === null ? "–" : String(stats.peers));
    cell(row, 7, state.pending === null ? "–" : String(state.pending));
    cell(row, 8, state.latency === null ? "–" : `${state.latency} ms`);
    cell(row, 9, gwei(stats.gasPrice));
    cell(row, 10, stats.mining === true ? "yes" : stats.mining === false ? "no" : "–");
    cell(row, 11, node && node.uptime !== null ? `${node.uptime.toFixed(node.uptime >= 99.95 ? 0 : 1)} %` : "–",
      "num uptime");
    const seen = state.lastSeen === null ? null : (now - state.lastSeen) / 1000;
    cell(row, 12, seen === null ? "–" : `${seconds(seen)} ago`, `num ${ageClass(seen)}`);
    const pill = row.cells[13].firstChild;
    const status = state.active === null ? "unknown" : isActive(state) ? "active" : "inactive";
    text(pill, status);
    pill.className = `status ${status}`;
    renderAlertCell(row.cells[14], state.id);
    row.cells[14].className = "alerts";
    row.className = `${status === "inactive" ? "inactive" : ""} ${selected === state.id ? "selected" : ""}`.trim();
    row.dataset.status = status;
    return row;
  }

  function renderTable(now) {
    const body = document.querySelector("#nodes tbody");
    const ordered = [...agents.values()].sort((a, b) => {
      if (isActive(a) !== isActive(b)) return isActive(a) ? -1 : 1;
      return displayName(a).localeCompare(displayName(b));
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
    const averages = [...view.nodes.values()].map((n) => n.propagation.average_ms).filter((v) => v !== null);
    text(document.getElementById("avg-propagation"),
      averages.length ? ms(averages.reduce((a, b) => a + b, 0) / averages.length) : "–");
  }

  function renderBanner() {
    const banner = document.getElementById("alert-banner");
    const firing = view.alerts.filter((alert) => alert.state === "firing");
    banner.hidden = firing.length === 0;
    text(banner, firing.length === 0 ? "" : `${firing.length} alert${firing.length > 1 ? "s" : ""} firing: `
      + firing.map((alert) => `${alert.alert} on ${alert.node || "the network"}`).join(", "));
  }

  function renderEvents() {
    const list = document.getElementById("alert-events");
    const key = view.events.map((event) => event.id).join(",");
    document.getElementById("no-events").hidden = view.events.length > 0;
    if (list.dataset.key === key) return;
    list.dataset.key = key;
    list.replaceChildren(...view.events.map((event) => {
      const item = document.createElement("li");
      const when = document.createElement("time");
      when.dateTime = event.at;
      when.textContent = new Date(event.at).toLocaleTimeString("en-GB");
      const what = document.createElement("span");
      what.className = event.kind;
      what.textContent = `${event.kind} ${event.alert} on ${event.node || "the network"}`;
      const detail = document.createElement("span");
      detail.className = "muted";
      detail.textContent = event.silenced ? "silenced" : event.summary;
      item.append(when, what, detail);
      return item;
    }));
  }

  // Charts: drawn in the SVG's own pixels, so text is never stretched.

  function svgElement(name, attributes, content) {
    const element = document.createElementNS(SVG, name);
    Object.entries(attributes).forEach(([key, value]) => element.setAttribute(key, value));
    if (content !== undefined) element.textContent = content;
    return element;
  }

  function frame(svg) {
    const width = Math.max(200, Math.round(svg.clientWidth || 600));
    const height = Math.max(100, Math.round(svg.clientHeight || 180));
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.replaceChildren();
    return { left: 48, right: width - 8, top: 8, bottom: height - 22, width: width, height: height };
  }

  function tickLabel(value, unit) {
    const rounded = value >= 100 ? Math.round(value).toLocaleString("en-US") : value >= 10 ? Math.round(value)
      : value.toFixed(1);
    return `${rounded}${unit}`;
  }

  function axes(svg, box, maximum, unit) {
    [0, 0.5, 1].forEach((share) => {
      const y = box.bottom - share * (box.bottom - box.top);
      svg.appendChild(svgElement("line", { x1: box.left, y1: y, x2: box.right, y2: y, class: "axis",
        "stroke-dasharray": share ? "2 4" : "" }));
      svg.appendChild(svgElement("text", { x: box.left - 6, y: y + 3, "text-anchor": "end", class: "tick" },
        tickLabel(maximum * share, unit)));
    });
  }

  function xLabels(svg, box, labels) {
    // labels: [{x, text}], left to right. Placed from the right (the newest keeps its label);
    // one that would touch the label placed before it is left out.
    let leftEdge = Infinity;
    [...labels].reverse().forEach((label) => {
      const width = 7 * label.text.length;
      let anchor = "middle";
      let start = label.x - width / 2;
      if (start + width > box.width) { anchor = "end"; start = label.x - width; }
      if (start < 0) { anchor = "start"; start = label.x; }
      if (start + width + 12 > leftEdge) return;
      svg.appendChild(svgElement("text", { x: label.x, y: box.height - 6, "text-anchor": anchor, class: "tick x" },
        label.text));
      leftEdge = start;
    });
  }

  function niceMaximum(value) {
    if (!(value > 0)) return 1;
    const magnitude = 10 ** Math.floor(Math.log10(value));
    return [1, 2, 5, 10].map((step) => step * magnitude).find((step) => step >= value);
  }

  function renderBlockTimes(times) {
    const svg = document.getElementById("block-time-chart");
    const box = frame(svg);
    const maximum = niceMaximum(Math.max(0, ...times.map((t) => t.seconds)));
    axes(svg, box, maximum, " s");
    const slot = (box.right - box.left) / BLOCKS_CHARTED;
    const average = times.length ? times.reduce((sum, t) => sum + t.seconds, 0) / times.length : 0;
    const labels = [];
    times.forEach((t, index) => {
      const height = Math.max(1, (Math.max(0, t.seconds) / maximum) * (box.bottom - box.top));
      const x = box.left + (BLOCKS_CHARTED - times.length + index) * slot + 1;
      const bar = svgElement("rect", {
        x: x, y: box.bottom - height, width: Math.max(1, slot - 2), height: height,
        class: t.seconds > 1.5 * average ? "bar slow" : "bar",
      });
      bar.appendChild(svgElement("title", {}, `#${t.number}: ${t.seconds.toFixed(1)} s`));
      svg.appendChild(bar);
      labels.push({ x: x + slot / 2, text: `#${t.number}` });
    });
    xLabels(svg, box, labels);
  }

  function renderLatency() {
    const svg = document.getElementById("latency-chart");
    const legend = document.getElementById("latency-legend");
    const box = frame(svg);
    legend.replaceChildren();
    const charted = [...agents.values()].filter((s) => s.latencies.length);
    const maximum = niceMaximum(Math.max(0, ...charted.flatMap((s) => s.latencies)));
    axes(svg, box, maximum, "");
    const step = (box.right - box.left) / (LATENCY_POINTS - 1);
    charted.forEach((state) => {
      const offset = LATENCY_POINTS - state.latencies.length;
      const points = state.latencies.map((value, index) =>
        `${(box.left + (offset + index) * step).toFixed(1)},${(box.bottom - (value / maximum) * (box.bottom - box.top)).toFixed(1)}`);
      svg.appendChild(svgElement("polyline", {
        points: points.join(" "), class: "line", stroke: state.color, "stroke-opacity": isActive(state) ? 1 : 0.35,
      }));
      const item = document.createElement("span");
      const swatch = document.createElement("i");
      swatch.style.background = state.color;
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(`${displayName(state)} ${state.latency} ms`));
      legend.appendChild(item);
    });
  }

  function binLabel(bin) {
    const edge = (value) => (value >= 1000 ? `${value / 1000} s` : `${value}`);
    return bin.to_ms === null ? `≥ ${edge(bin.from_ms)}` : `< ${edge(bin.to_ms)}${bin.to_ms < 1000 ? " ms" : ""}`;
  }

  function renderPropagation() {
    const svg = document.getElementById("propagation-chart");
    const box = frame(svg);
    const bins = view.network ? view.network.propagation_histogram : [];
    const maximum = niceMaximum(Math.max(0, ...bins.map((bin) => bin.count)));
    axes(svg, box, maximum, "");
    const slot = (box.right - box.left) / Math.max(1, bins.length);
    bins.forEach((bin, index) => {
      const height = bin.count ? Math.max(1, (bin.count / maximum) * (box.bottom - box.top)) : 0;
      const x = box.left + index * slot + 3;
      const bar = svgElement("rect", { x: x, y: box.bottom - height, width: slot - 6, height: height,
        class: index >= 3 ? "bar slow" : "bar", "data-count": bin.count });
      bar.appendChild(svgElement("title", {}, `${binLabel(bin)}: ${bin.count}`));
      svg.appendChild(bar);
    });
    xLabels(svg, box, bins.map((bin, index) => ({ x: box.left + (index + 0.5) * slot, text: binLabel(bin) })));
  }

  // The node detail view: its state, and its stored statistics over the last hours.

  function fact(list, term, value) {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = value;
    list.append(dt, dd);
  }

  function renderDetailFacts() {
    if (selected === null) return;
    const state = agents.get(selected);
    const node = view.nodes.get(selected) || null;
    text(document.getElementById("detail-name"), state ? displayName(state) : selected);
    text(document.getElementById("detail-id"), selected);
    const facts = document.getElementById("detail-facts");
    facts.replaceChildren();
    fact(facts, "Head", node && node.head !== null ? `#${node.head.toLocaleString("en-US")}` : "–");
    fact(facts, "Behind best", node && node.blocks_behind !== null ? `${node.blocks_behind} blocks` : "–");
    fact(facts, "Propagation (last)", node ? ms(node.propagation.last_ms) : "–");
    fact(facts, "Propagation (average)", node ? ms(node.propagation.average_ms) : "–");
    fact(facts, "Uptime (24 h)", node && node.uptime !== null ? `${node.uptime.toFixed(1)} %` : "–");
    fact(facts, "Alerts", alertsOf(selected).map((a) => `${a.alert} (${a.state})`).join(", ") || "none");
  }

  function timeSeries(svgId, points, series, unit) {
    const svg = document.getElementById(svgId);
    const box = frame(svg);
    const values = points.flatMap((point) => series.map((s) => point[s.key])).filter((v) => v !== null);
    if (!points.length || !values.length) return;
    const low = series.some((s) => s.fromZero) ? 0 : Math.min(...values);
    const high = Math.max(...values);
    const span = high - low || 1;
    const times = points.map((point) => Date.parse(point.time));
    const first = times[0];
    const width = Math.max(1, times[times.length - 1] - first);
    const x = (time) => box.left + ((time - first) / width) * (box.right - box.left);
    const y = (value) => box.bottom - ((value - low) / span) * (box.bottom - box.top);
    [0, 0.5, 1].forEach((share) => {
      const yy = box.bottom - share * (box.bottom - box.top);
      svg.appendChild(svgElement("line", { x1: box.left, y1: yy, x2: box.right, y2: yy, class: "axis" }));
      svg.appendChild(svgElement("text", { x: box.left - 6, y: yy + 3, "text-anchor": "end", class: "tick" },
        tickLabel(low + share * span, unit)));
    });
    series.forEach((s) => {
      const line = points.map((point, index) => (point[s.key] === null ? null
        : `${x(times[index]).toFixed(1)},${y(point[s.key]).toFixed(1)}`)).filter(Boolean);
      svg.appendChild(svgElement("polyline", { points: line.join(" "), class: "line", stroke: s.color }));
      points.forEach((point, index) => {
        if (point[s.key] === null) return;
        const dot = svgElement("circle", { cx: x(times[index]), cy: y(point[s.key]), r: 3, fill: s.color });
        dot.appendChild(svgElement("title", {}, `${point.time}: ${tickLabel(point[s.key], unit)}`));
        svg.appendChild(dot);
      });
    });
    const clock = (time) => new Date(time).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });
    const ends = [clock(first), clock(times[times.length - 1])];
    xLabels(svg, box, ends[0] === ends[1] ? [{ x: box.right, text: ends[1] }]
      : [{ x: box.left, text: ends[0] }, { x: box.right, text: ends[1] }]);
  }

  function showDetail(id) {
    selected = id;
    const section = document.getElementById("node-detail");
    section.hidden = false;
    section.dataset.node = id;
    renderDetailFacts();
    queueRender();
    const url = config.historyPath.replace("NODE", encodeURIComponent(id)) + "?hours=6";
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : null))
      .then((history) => {
        if (!history || selected !== id) return;
        timeSeries("detail-peers", history.ethereum, [{ key: "peers", color: COLORS[0], fromZero: true }], "");
        const active = history.ethereum.map((point) => ({ time: point.time, active: 100 * point.active }));
        timeSeries("detail-active", active, [{ key: "active", color: COLORS[1], fromZero: true }], " %");
        timeSeries("detail-system", history.system, [
          { key: "cpu", color: COLORS[2], fromZero: true }, { key: "memory", color: COLORS[3], fromZero: true }], "");
        document.getElementById("detail-empty").hidden = history.ethereum.length + history.system.length > 0;
        section.dataset.loaded = "true";
      })
      .catch(() => {});
  }

  function hideDetail() {
    selected = null;
    const section = document.getElementById("node-detail");
    section.hidden = true;
    delete section.dataset.loaded;
    queueRender();
  }

  function followHash() {
    const match = /^#node=(.+)$/.exec(location.hash);
    if (match) showDetail(decodeURIComponent(match[1]));
    else hideDetail();
  }

  document.getElementById("detail-close").addEventListener("click", () => {
    history.replaceState(null, "", location.pathname);
    hideDetail();
  });
  window.addEventListener("hashchange", followHash);

  function render() {
    const now = Date.now();
    const times = recentBlockTimes();
    renderTable(now);
    renderSummary(now, times);
    renderBanner();
    renderEvents();
    renderBlockTimes(times);
    renderLatency();
    renderPropagation();
    renderDetailFacts();
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
  setInterval(fetchNetwork, NETWORK_REFRESH_MS);
  fetchNetwork();
  render();
  followHash();
  connect();
})();
