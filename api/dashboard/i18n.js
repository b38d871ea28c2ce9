// Labels: Chinese by default, English switchable; the choice is kept in localStorage.
const TEXT = {
  zh: {
    title: "汾渭平原 · 关中平原 空气与河流监测",
    subtitle: "北京时间 (UTC+8)",
    key: "API 密钥", save: "保存", forget: "清除", keyPrompt: "请输入 API 密钥以查看数据。",
    keyBad: "密钥无效或已吊销。", keyForbidden: "此密钥无权读取数据。",
    live: "实时", polling: "轮询", offline: "离线", updated: "更新于",
    map: "站点与城市 (当前 AQI)", mapNote: "示意图：经纬度坐标，河流按断面连线；滚轮缩放，点击站点或城市查看曲线",
    noFlow: "暂无足够的流量数据（仅显示目标）",
    warnings: "生效中的预警", noWarnings: "当前无生效预警",
    chart: "近 7 天 AQI 与预报", station: "站点", city: "城市",
    forecast: "预报", observed: "实测", fan: "预报区间 10%–90%", median: "预报中位数",
    now: "现在", pm25Fallback: "暂无 AQI 历史，显示 PM2.5 (µg/m³)",
    rivers: "河流断面 生态流量与目标", flow: "日均流量", target: "目标",
    alerts: "待处理告警", noAlerts: "无待处理告警", ack: "确认", acked: "已确认",
    ackFailed: "确认失败", ackForbidden: "此密钥无权确认该告警", responder: "确认人",
    level: "级别", titleCol: "内容", subject: "对象", observedAt: "观测时间",
    left: "剩余", state: "状态", action: "操作", expired: "已到期",
    noData: "暂无数据", unavailable: "暂不可用",
    days: "天", hours: "小时", minutes: "分",
    aqi: "AQI", primary: "首要污染物", category: "类别", time: "时间",
    levels: { blue: "蓝色", yellow: "黄色", orange: "橙色", red: "红色" },
    riverLevels: { ok: "达标", clear: "达标", blue: "蓝色", yellow: "黄色", red: "红色", dry: "断流" },
    states: { pending: "待定", active: "生效", acknowledged: "已确认", escalated: "已升级",
      resolved: "已解除" },
    gauge: "水文站", cityMarker: "城市", stationMarker: "空气站",
    as: "身份", lang: "English",
  },
  en: {
    title: "Fen-Wei & Guanzhong Plains · Air and River Monitoring",
    subtitle: "China Standard Time (UTC+8)",
    key: "API key", save: "Save", forget: "Forget", keyPrompt: "Enter an API key to see data.",
    keyBad: "The key is invalid or revoked.", keyForbidden: "This key may not read data.",
    live: "live", polling: "polling", offline: "offline", updated: "updated",
    map: "Stations and cities (current AQI)",
    mapNote: "Schematic: lon/lat coordinates, rivers drawn through their sections; " +
      "scroll to zoom, click a station or city for its chart",
    noFlow: "Not enough flow data yet (targets only)",
    warnings: "Active warnings", noWarnings: "No active warnings",
    chart: "AQI, last 7 days, and forecast", station: "Station", city: "City",
    forecast: "forecast", observed: "observed", fan: "forecast 10%–90%", median: "forecast median",
    now: "now", pm25Fallback: "No AQI history yet: showing PM2.5 (µg/m³)",
    rivers: "River sections: ecological flow vs target", flow: "daily mean flow",
    target: "target",
    alerts: "Open alerts", noAlerts: "No open alerts", ack: "Acknowledge", acked: "Acknowledged",
    ackFailed: "Acknowledge failed", ackForbidden: "This key may not acknowledge this alert",
    responder: "Responder",
    level: "Level", titleCol: "Alert", subject: "Subject", observedAt: "Observed",
    left: "Time left", state: "State", action: "Action", expired: "expired",
    noData: "No data", unavailable: "Not available yet",
    days: "d", hours: "h", minutes: "m",
    aqi: "AQI", primary: "Primary pollutant", category: "Category", time: "Time",
    levels: { blue: "Blue", yellow: "Yellow", orange: "Orange", red: "Red" },
    riverLevels: { ok: "met", clear: "met", blue: "Blue", yellow: "Yellow", red: "Red", dry: "dry" },
    states: { pending: "pending", active: "active", acknowledged: "acknowledged",
      escalated: "escalated", resolved: "resolved" },
    gauge: "Hydrological gauge", cityMarker: "City", stationMarker: "Air station",
    as: "Signed in as", lang: "中文",
  },
};

let current = "zh";

export function initLang() {
  const fromUrl = new URLSearchParams(location.search).get("lang");
  const saved = localStorage.getItem("fenwei.lang");
  current = [fromUrl, saved].find((l) => l === "zh" || l === "en") || "zh";
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
  return current;
}

export function lang() {
  return current;
}

export function setLang(l) {
  current = l === "en" ? "en" : "zh";
  localStorage.setItem("fenwei.lang", current);
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
  applyStatic();
}

/** A label; dotted keys reach nested tables ("levels.red"); unknown keys show themselves. */
export function t(key) {
  const v = key.split(".").reduce((o, k) => (o && k in o ? o[k] : undefined), TEXT[current]);
  return v === undefined ? key.split(".").pop() : v;
}

/** Fill every element carrying data-i18n with its label. */
export function applyStatic(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
  document.title = t("title");
}

/** The name of a catalogue thing in the current language. */
export function nameOf(thing) {
  if (!thing) return "";
  if (current === "en") return thing.name_en || thing.name_zh || thing.id || thing.slug;
  return thing.name_zh || thing.name_en || thing.id || thing.slug;
}
