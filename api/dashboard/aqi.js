// AQI categories of HJ 633 and their colours; missing data is grey, never "good".
export const NO_DATA = "#BBBBBB";

export const CATEGORIES = [
  { max: 50, colour: "#00E400", zh: "优", en: "Good", grade: "I" },
  { max: 100, colour: "#FFFF00", zh: "良", en: "Moderate", grade: "II" },
  { max: 150, colour: "#FF7E00", zh: "轻度污染", en: "Lightly polluted", grade: "III" },
  { max: 200, colour: "#FF0000", zh: "中度污染", en: "Moderately polluted", grade: "IV" },
  { max: 300, colour: "#99004C", zh: "重度污染", en: "Heavily polluted", grade: "V" },
  { max: Infinity, colour: "#7E0023", zh: "严重污染", en: "Severely polluted", grade: "VI" },
];

/** The category of an AQI value (integers as the standard rounds up), or null when missing. */
export function category(aqi) {
  if (aqi === null || aqi === undefined || !Number.isFinite(Number(aqi)) || Number(aqi) < 0) {
    return null;
  }
  const v = Math.ceil(Number(aqi));
  return CATEGORIES.find((c) => v <= c.max);
}

export function aqiColour(aqi) {
  const c = category(aqi);
  return c ? c.colour : NO_DATA;
}

/** Piecewise visualMap pieces for ECharts: the same bands on a chart. */
export function visualPieces() {
  return CATEGORIES.map((c, i) => {
    const lo = i === 0 ? { gte: 0 } : { gt: CATEGORIES[i - 1].max };
    return c.max === Infinity ? { ...lo, color: c.colour } : { ...lo, lte: c.max, color: c.colour };
  });
}

// Warning levels (alerts/_levels.py) and river grades: colours of the level names.
export const LEVEL_COLOURS = {
  blue: "#1E6FD9", yellow: "#F2C200", orange: "#FF7E00", red: "#E00000",
};

export function levelColour(level) {
  return LEVEL_COLOURS[level] || "#8A8F98";
}
