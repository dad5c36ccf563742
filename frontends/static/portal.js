// The Home page's chart: Chart.js over the data of the table beside it (#spend-data).
document.addEventListener("DOMContentLoaded", () => {
  const source = document.getElementById("spend-data");
  const canvas = document.getElementById("spend-chart");
  if (!source || !canvas || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  const style = getComputedStyle(document.documentElement);
  const colour = style.getPropertyValue("--brand-title-bg").trim() || "#2f5d8a";
  new window.Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [{ label: data.label, data: data.values.map(Number), backgroundColor: colour }],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      locale: document.documentElement.lang,
      plugins: { legend: { display: false, rtl: data.rtl }, tooltip: { rtl: data.rtl } },
      scales: { x: { reverse: data.rtl }, y: { beginAtZero: true, position: data.rtl ? "right" : "left" } },
    },
  });
});
