// PullWidget's view: a bar per layer, speed and time left, then success or the error.

function shortDigest(digest) {
  return String(digest || "").replace(/^sha256[:-]/, "").slice(0, 12);
}

function render({ model, el }) {
  el.classList.add("jo-widget", "jo-pull");

  function draw() {
    const layers = model.get("layers");
    const done = model.get("done");
    const error = model.get("error");
    const success = model.get("success");
    const status = model.get("status");
    const badge = done
      ? h("span", { class: `jo-badge ${success ? "jo-ok" : "jo-bad"}` }, success ? "✓ success" : "✗ failed")
      : h("span", { class: "jo-badge" }, status || "starting");
    const rows = layers.map((layer) => {
      const total = layer.total || 0;
      const completed = Math.min(layer.completed || 0, total);
      const percent = total ? Math.floor((100 * completed) / total) : 0;
      return h("div", { class: "jo-layer" },
        h("code", { class: "jo-digest", title: layer.digest }, shortDigest(layer.digest)),
        h("progress", { class: "jo-progress", max: 100, value: percent, "aria-label": `layer ${shortDigest(layer.digest)}` }),
        h("span", { class: "jo-amount" }, total ? `${formatBytes(completed)} / ${formatBytes(total)}` : ""),
        h("span", { class: "jo-percent" }, total ? `${percent}%` : ""));
    });
    const total = model.get("total");
    const completed = model.get("completed");
    const eta = model.get("eta");
    const speed = model.get("speed");
    let summary = "";
    if (!done && total) {
      summary = [`${formatBytes(completed)} of ${formatBytes(total)}`,
        speed > 0 ? `${formatBytes(speed)}/s` : null,
        eta !== null && eta !== undefined ? `${formatDuration(eta)} left` : null].filter(Boolean).join(" · ");
    } else if (done && success) {
      summary = total ? `${formatBytes(total)} in ${layers.length} layer${layers.length === 1 ? "" : "s"}` : "";
    }
    fill(el,
      h("div", { class: "jo-toolbar" }, h("span", { class: "jo-title" }, "Pull"), h("code", { class: "jo-name" }, model.get("name")),
        h("span", { class: "jo-spacer" }), badge),
      rows.length ? h("div", { class: "jo-layers" }, rows) : null,
      summary ? h("div", { class: "jo-summary jo-muted" }, summary) : null,
      errorLine(error),
    );
  }

  // One update changes several traits: draw once after all of them.
  let queued = false;
  const schedule = () => {
    if (queued) return;
    queued = true;
    queueMicrotask(() => { queued = false; draw(); });
  };
  const names = ["layers", "status", "done", "error", "success", "completed", "total", "speed", "eta", "name"];
  for (const name of names) model.on(`change:${name}`, schedule);
  draw();
  return () => { for (const name of names) model.off(`change:${name}`, schedule); };
}

export default { render };
