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
    silences: "静默（维护窗口）", noSilences: "当前无静默", newSilence: "新建静默",
    silenceMatch: "匹配", silenceWindow: "时段", reason: "原因", createdBy: "创建人",
    expireSilence: "结束静默", addSilence: "添加静默", anyCity: "全部城市", anyStation: "全部站点",
    anyLevel: "全部级别", kindLabel: "告警类型", durationLabel: "时长", matchAll: "全部告警",
    silenceFailed: "静默失败", silenceForbidden: "此密钥只能在本城市（本省）内静默",
    silenced: "已静默（通知暂缓）", until: "至", showAll: "含已结束",
    silenceStates: { active: "生效中", pending: "未开始", expired: "已结束" },
    matchers: { rule: "规则", kind: "类型", city: "城市", station: "站点", section: "断面",
      level: "级别", subject: "对象" },
    details: "详情", hideDetails: "收起", loading: "加载中…", addNote: "添加备注",
    notePlaceholder: "备注（写入审计记录）", noteFailed: "备注失败", refresh: "刷新",
    citiesAcked: "城市确认", inGroup: "条（同组通知）", groupAlerts: "按通知分组",
    duty: "当前值班", noDuty: "暂无值班安排", nobodyOnDuty: "无人值班",
    dutyOverride: "临时替班", dutyNext: "下一班",
    explorer: "历史数据浏览", explorerNote: "按站点、城市或河流断面查看历史数据、标记与限值；框选缩放；同一选择可导出",
    kindLabelData: "类型", kinds: { air: "空气", hydro: "水文" }, sectionsLabel: "河流断面",
    paramsLabel: "参数", fromDay: "起始日", toDay: "截止日", aggregation: "汇总",
    aggregations: { raw: "原始数据", hourly: "小时值", daily: "日均值", monthly: "月均值" },
    neighbours: "邻近站中位数对比", show: "查询", exportCsv: "导出 CSV", exportXlsx: "导出 Excel",
    completeness: "数据有效率", screening: "异常与干扰筛查", shown: "已显示", stationsWord: "个站点",
    pointsWord: "个数据点", downloaded: "已下载", neighbourMedian: "邻近站中位数", limit: "标准限值",
    limitSpan: { day: "24小时平均", hour: "1小时平均", "8h": "8小时平均" },
    limitNote: "红色虚线：GB 3095 二级浓度限值（2026-03-01 起 PM2.5 60、PM10 120）",
    flagClass: { maintenance: "维护/校准 (M, C)", invalid: "无效 (F, D, S, B)",
      above_range: "超量程 (T，下限值)", insufficient: "有效数据不足" },
    flagLegend: { maintenance: "维护/校准 (M, C)", invalid: "无效数据 (F, D, S, B)",
      above_range: "超量程 (T)：真实值不低于该值", insufficient: "日/月值有效数据不足（不计入）" },
    flag: "标记", validCount: "有效个数",
    validityRule: { daily: "日均值需 ≥ 20 个有效小时", monthly: "月均值需 ≥ 27 个有效日（2 月 25 个）",
      raw: "", hourly: "" },
    flags: { N: "正常", F: "停运", M: "维护", S: "手工输入", D: "故障", C: "校准", T: "超量程",
      B: "通讯异常" },
    brushZoom: "框选缩放", zoomBack: "撤销缩放", zoomReset: "还原",
    explorerTruncated: "原始数据过多，仅显示前一部分：请选择小时值", neighboursCapped: "邻近站对比仅显示前 {n} 个站点",
    explorerErrors: { badRange: "请选择起止日期（截止日不早于起始日）",
      tooLong: "该汇总方式最多显示 {days} 天：请选择更粗的汇总（导出不受限）",
      noStations: "请选择站点、城市或河流断面", noParams: "请选择参数" },
    param: "参数", validHours: "有效小时", validDays: "有效日", validMonths: "有效月", gapsCol: "缺失原因",
    completenessNote: "按中国标准时间整日统计；日均值需 ≥ 20 个有效小时，月均值需 ≥ 27 个有效日（2 月 25 个）；仅 N、T 标记计为有效",
    ruleCol: "规则", period: "时段", score: "得分", reviewCol: "复核", review: "复核",
    noFindings: "未发现异常", screenForbidden: "异常筛查仅对检查员、生态环境局与管理员开放",
    screenAirOnly: "异常筛查仅适用于空气站",
    verdicts: { reviewed: "已复核", false_alarm: "误报", confirmed: "确认异常" },
    rules: { departure: "偏离邻近站", level_shift: "水平突变", flat_line: "数值不变", too_smooth: "过于平滑",
      hour_drop: "固定时段骤降", pm25_above_pm10: "PM2.5 高于 PM10", flags_in_episodes: "污染过程中校准/维护" },
    actions: { opened: "开启", activated: "生效", acknowledged: "已确认", acknowledged_for: "城市确认",
      link_used: "链接已使用", note: "备注", level_up: "升级", level_down: "降级", escalated: "升级通知",
      renotified: "再次提醒", suppressed: "通知暂缓（静默）", inhibited: "通知暂缓（抑制）",
      released: "暂缓通知已发出", lifted: "解除", resolved: "已解除", cancelled: "已撤销",
      updated: "更新", not_paged: "未发送", insufficient_data: "数据不足" },
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
    silences: "Silences (maintenance windows)", noSilences: "No silences", newSilence: "New silence",
    silenceMatch: "Matches", silenceWindow: "Window", reason: "Reason", createdBy: "Created by",
    expireSilence: "End silence", addSilence: "Add silence", anyCity: "all cities",
    anyStation: "all stations", anyLevel: "all levels", kindLabel: "Alert kind",
    durationLabel: "Duration", matchAll: "all alerts",
    silenceFailed: "Silence failed", silenceForbidden: "This key may silence only within its own city (province)",
    silenced: "silenced (notifications held)", until: "until", showAll: "include ended",
    silenceStates: { active: "in force", pending: "to come", expired: "ended" },
    matchers: { rule: "rule", kind: "kind", city: "city", station: "station", section: "section",
      level: "level", subject: "subject" },
    details: "Details", hideDetails: "Hide", loading: "Loading…", addNote: "Add note",
    notePlaceholder: "Note (kept in the audit trail)", noteFailed: "Note failed", refresh: "Refresh",
    citiesAcked: "Cities acknowledged", inGroup: "in this notification group",
    groupAlerts: "Group as notified",
    duty: "On duty now", noDuty: "No duty roster", nobodyOnDuty: "nobody on duty",
    dutyOverride: "override", dutyNext: "next",
    explorer: "History explorer", explorerNote: "Stations, cities or river sections over time with flags and limits; drag to zoom; the same selection exports",
    kindLabelData: "Kind", kinds: { air: "air", hydro: "hydro" }, sectionsLabel: "River sections",
    paramsLabel: "Parameters", fromDay: "From day", toDay: "To day", aggregation: "Aggregation",
    aggregations: { raw: "raw readings", hourly: "hourly", daily: "daily means", monthly: "monthly means" },
    neighbours: "Compare with neighbours' median", show: "Show", exportCsv: "Export CSV",
    exportXlsx: "Export Excel", completeness: "Completeness (valid data)",
    screening: "Screening for faults and tampering", shown: "Shown", stationsWord: "stations",
    pointsWord: "points", downloaded: "Downloaded", neighbourMedian: "neighbours' median", limit: "limit",
    limitSpan: { day: "24 h mean", hour: "1 h mean", "8h": "8 h mean" },
    limitNote: "Red dashes: GB 3095 secondary-class limits (from 2026-03-01 PM2.5 60, PM10 120)",
    flagClass: { maintenance: "maintenance/calibration (M, C)", invalid: "invalid (F, D, S, B)",
      above_range: "above range (T, lower bound)", insufficient: "too few valid values" },
    flagLegend: { maintenance: "maintenance/calibration (M, C)", invalid: "invalid (F, D, S, B)",
      above_range: "above range (T): the true value is at least this",
      insufficient: "day/month with too few valid values (does not count)" },
    flag: "flag", validCount: "valid values",
    validityRule: { daily: "a day needs >= 20 valid hours", monthly: "a month needs >= 27 valid days (25 in February)",
      raw: "", hourly: "" },
    flags: { N: "normal", F: "instrument stopped", M: "maintenance", S: "manually set", D: "fault",
      C: "calibration", T: "above range", B: "communication fault" },
    brushZoom: "Drag to zoom", zoomBack: "Undo zoom", zoomReset: "Reset",
    explorerTruncated: "too many raw readings: only the first part is shown; choose hourly",
    neighboursCapped: "neighbours compared for the first {n} stations only",
    explorerErrors: { badRange: "Choose the first and last day (the last not before the first)",
      tooLong: "This aggregation charts at most {days} days: choose a coarser one (exports have no such limit)",
      noStations: "Choose stations, cities or river sections", noParams: "Choose parameters" },
    param: "Parameter", validHours: "Valid hours", validDays: "Valid days", validMonths: "Valid months",
    gapsCol: "Gaps by cause",
    completenessNote: "Whole China Standard Time days; a day needs >= 20 valid hours, a month >= 27 valid days (25 in February); only N and T count",
    ruleCol: "Rule", period: "Period", score: "Score", reviewCol: "Review", review: "Review",
    noFindings: "No findings", screenForbidden: "Screening is for inspectors, bureaus and admins",
    screenAirOnly: "Screening is for air stations",
    verdicts: { reviewed: "reviewed", false_alarm: "false alarm", confirmed: "confirmed" },
    rules: { departure: "departs from neighbours", level_shift: "level shift", flat_line: "flat line",
      too_smooth: "too smooth", hour_drop: "drop at an hour", pm25_above_pm10: "PM2.5 above PM10",
      flags_in_episodes: "calibration/maintenance in episodes" },
    actions: { opened: "opened", activated: "activated", acknowledged: "acknowledged",
      acknowledged_for: "acknowledged for city", link_used: "link used", note: "note",
      level_up: "level up", level_down: "level down", escalated: "escalated",
      renotified: "reminder", suppressed: "held (silence)", inhibited: "held (inhibition)",
      released: "held notification sent", lifted: "lifted", resolved: "resolved",
      cancelled: "cancelled", updated: "updated", not_paged: "not paged",
      insufficient_data: "insufficient data" },
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
