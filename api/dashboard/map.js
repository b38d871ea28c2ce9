// The region as a scatter on lon/lat axes: stations and cities coloured by current AQI,
// river gauges, and each river drawn through its sections (no tiles, nothing fetched).
import { aqiColour, category } from "./aqi.js";
import { riverLevelColour } from "./charts.js";
import { lang, nameOf, t } from "./i18n.js";
import { cstText } from "./util.js";

const RIVER_BLUE = "#3d7fc4";

/** Polylines per river: its sections upstream to downstream, a tributary joined to its river. */
export function riverLines(rivers, sections) {
  const byId = Object.fromEntries(sections.map((s) => [s.id, s]));
  return rivers.map((r) => {
    const pts = r.sections.map((id) => byId[id]).filter(Boolean).map((s) => [s.lon, s.lat]);
    const main = r.joins && rivers.find((x) => x.id === r.joins);
    if (main) {
      // joins above a named section, or below the last one listed
      const at = byId[r.joins_above || main.sections[main.sections.length - 1]];
      if (at) pts.push([at.lon, at.lat]);
    }
    return { river: r, points: pts };
  }).filter((l) => l.points.length >= 2);
}

function extent(points) {
  const lons = points.map((p) => p[0]);
  const lats = points.map((p) => p[1]);
  const pad = 0.35;
  return {
    lon: [Math.floor((Math.min(...lons) - pad) * 2) / 2, Math.ceil((Math.max(...lons) + pad) * 2) / 2],
    lat: [Math.floor((Math.min(...lats) - pad) * 2) / 2, Math.ceil((Math.max(...lats) + pad) * 2) / 2],
  };
}

export class RegionMap {
  constructor(node, onSelect) {
    this.node = node;
    // SVG: crisp at any size, and the markers are real elements a test can inspect.
    this.chart = echarts.init(node, null, { renderer: "svg" });
    this.chart.on("click", (p) => {
      if (p.data && p.data.pick) onSelect(p.data.pick.scope, p.data.pick.id);
    });
    this.markers = [];
    this.box = null;
  }

  render({ cities, stations, sections, rivers, aqiStation, aqiCity, ecoflow }) {
    const air = stations.filter((s) => s.kind === "air");
    const all = [...cities, ...stations].map((x) => [x.lon, x.lat]);
    if (!all.length) return;
    this.box = extent(all);
    this.markers = air.map((s) => ({ id: s.id, colour: aqiColour(aqiStation[s.id]?.aqi) }));
    const stationData = air.map((s, i) => ({
      name: s.id, value: [s.lon, s.lat], pick: { scope: "station", id: s.id },
      info: { thing: s, row: aqiStation[s.id] },
      itemStyle: { color: this.markers[i].colour },
    }));
    const gaugeData = sections.map((sec) => {
      const row = ecoflow[sec.id];
      return {
        name: sec.id, value: [sec.lon, sec.lat], info: { section: sec, row },
        itemStyle: { color: row && row.q_mean !== null ? riverLevelColour(row.level) : RIVER_BLUE },
      };
    });
    const cityData = cities.map((c) => ({
      name: c.slug, value: [c.lon, c.lat], pick: { scope: "city", id: c.slug },
      info: { thing: c, row: aqiCity[c.slug] },
      itemStyle: { color: aqiColour(aqiCity[c.slug]?.aqi) },
    }));
    const lines = riverLines(rivers, sections).map((l) => ({
      type: "line", name: `river:${l.river.id}`, data: l.points, symbol: "none", silent: true,
      lineStyle: { color: RIVER_BLUE, width: l.river.joins ? 2 : 3.5, opacity: 0.8 },
      endLabel: { show: !l.river.joins, formatter: nameOf(l.river), color: RIVER_BLUE,
        fontSize: 12 },
      z: 1,
    }));
    this.chart.setOption({
      animation: false,
      tooltip: { trigger: "item", formatter: (p) => this.tooltip(p) },
      xAxis: { type: "value", min: this.box.lon[0], max: this.box.lon[1], interval: 1,
        axisLabel: { formatter: "{value}°E" }, splitLine: { lineStyle: { color: "#eef1f4" } } },
      yAxis: { type: "value", min: this.box.lat[0], max: this.box.lat[1], interval: 1,
        axisLabel: { formatter: "{value}°N" }, splitLine: { lineStyle: { color: "#eef1f4" } } },
      grid: this.grid(),
      series: [
        ...lines,
        // cities under the stations, so a city's own stations stay visible on top of it
        { type: "scatter", name: "cities", data: cityData, symbolSize: 22,
          itemStyle: { borderColor: "#222", borderWidth: 2, opacity: 0.9 }, z: 3,
          labelLayout: { hideOverlap: true },
          label: { show: true, position: "right", fontSize: 13, fontWeight: "bold",
            formatter: (p) => nameOf(p.data.info.thing), color: "#1f2933",
            textBorderColor: "#fff", textBorderWidth: 3 } },
        { type: "scatter", name: "gauges", data: gaugeData, symbol: "triangle", symbolSize: 11,
          itemStyle: { borderColor: "#1d3557", borderWidth: 1 }, z: 4 },
        { type: "scatter", name: "stations", data: stationData, symbolSize: 9,
          itemStyle: { borderColor: "#333", borderWidth: 0.6 }, z: 5 },
      ],
      // wheel / pinch zoom on both axes together keeps the aspect ratio
      dataZoom: [{ type: "inside", xAxisIndex: 0, yAxisIndex: 0, filterMode: "none" }],
    }, { replaceMerge: ["series"] });
  }

  /** Grid margins that keep one degree of longitude cos(lat) as wide as one of latitude. */
  grid() {
    const w = this.node.clientWidth || 800;
    const h = this.node.clientHeight || 500;
    const m = { left: 56, right: 24, top: 16, bottom: 32 };
    if (!this.box) return m;
    const dLon = this.box.lon[1] - this.box.lon[0];
    const dLat = this.box.lat[1] - this.box.lat[0];
    const k = Math.cos(((this.box.lat[0] + this.box.lat[1]) / 2) * Math.PI / 180);
    const aw = w - m.left - m.right;
    const ah = h - m.top - m.bottom;
    const want = (dLon * k) / dLat;
    if (aw / ah > want) {
      const extra = aw - ah * want;
      return { ...m, left: m.left + extra / 2, right: m.right + extra / 2 };
    }
    const extra = ah - aw / want;
    return { ...m, top: m.top + extra / 2, bottom: m.bottom + extra / 2 };
  }

  /** Each air station's marker: its colour and where it is drawn (page pixels). */
  markerPixels() {
    const box = this.node.getBoundingClientRect();
    const stations = this.chart.getOption().series.find((x) => x.name === "stations");
    return (stations ? stations.data : []).map((d) => {
      const [x, y] = this.chart.convertToPixel({ seriesName: "stations" }, d.value);
      return { id: d.name, colour: d.itemStyle.color, x: box.left + x, y: box.top + y };
    });
  }

  resize() {
    this.chart.resize();
    if (this.box) this.chart.setOption({ grid: this.grid() });
  }

  tooltip(p) {
    const info = p.data && p.data.info;
    if (!info) return "";
    if (info.section) {
      const r = info.row;
      const head = `${t("gauge")} · ${nameOf(info.section)}`;
      if (!r) return `${head}<br>${t("noData")}`;
      return `${head}<br>${t("flow")}: ${fmtNum(r.q_mean)} m³/s · ${t("target")}: ` +
        `${fmtNum(r.target)} m³/s<br>${t(`riverLevels.${r.level}`)} (${r.day || ""})`;
    }
    const thing = info.thing;
    const label = thing.slug ? `${t("cityMarker")} · ${nameOf(thing)}` :
      `${t("stationMarker")} · ${thing.id} ${thing.name_zh}`;
    const r = info.row;
    if (!r || r.aqi === null || r.aqi === undefined) return `${label}<br>${t("noData")}`;
    const c = category(r.aqi);
    const catName = lang() === "zh" ? (r.category_zh || c.zh) : (r.category_en || c.en);
    return `${label}<br>${t("aqi")} <b>${r.aqi}</b> · ${catName}` +
      (r.primary && r.primary.length ? `<br>${t("primary")}: ${[].concat(r.primary).join(", ")}` : "") +
      `<br>${cstText(r.time, lang())}`;
  }
}

function fmtNum(v) {
  return v === null || v === undefined ? "–" : Number(v).toFixed(1);
}
