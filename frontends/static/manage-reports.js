// The financial report's chart: Chart.js over the data of the table below it (#days-data):
// revenue and cost as bars, profit as a line, one point a day.
document.addEventListener("DOMContentLoaded", () => {
  const source = document.getElementById("days-data");
  const canvas = document.getElementById("days-chart");
  if (!source || !canvas || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  const style = getComputedStyle(document.documentElement);
  const brand = style.getPropertyValue("--brand-title-bg").trim() || "#2f5d8a";
  const looks = {
    revenue: { type: "bar", backgroundColor: brand },
    cost: { type: "bar", backgroundColor: "#9aa5b1" },
    profit: { type: "line", borderColor: "#2e7d32", backgroundColor: "#2e7d32", pointRadius: 2 },
  };
  new window.Chart(canvas, {
    data: {
      labels: data.labels,
      datasets: data.series.map((series) => ({
        ...looks[series.key],
        label: `${series.label} (${data.currency})`,
        data: data.points[series.key].map(Number),
      })),
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      locale: document.documentElement.lang,
      plugins: { legend: { rtl: data.rtl }, tooltip: { rtl: data.rtl } },
      scales: { x: { reverse: data.rtl }, y: { position: data.rtl ? "right" : "left" } },
    },
  });
});
