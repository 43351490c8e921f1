// GpuMonitor's view of `system` (GET /api/system): per GPU a memory bar split by model and its
// utilization; the RAM bar split by the models on the CPU.

const gib = (n) => formatBytes(n, true);

function memorySegments(models, used, colors) {
  const segments = models.map((m) => ({ value: m.size, label: m.name, kind: "model", color: colors.get(m.name) }));
  const held = models.reduce((a, m) => a + m.size, 0);
  segments.push({ value: Math.max(0, used - held), label: "other processes", kind: "other" });
  return segments;
}

function device(title, side, total, used, models, colors) {
  const segments = memorySegments(models, used, colors);
  return h("div", { class: "jo-device" },
    h("div", { class: "jo-device-head" }, h("span", { class: "jo-device-name" }, title), h("span", { class: "jo-spacer" }), side),
    stackedBar(total, segments, gib),
    h("div", { class: "jo-device-foot jo-muted" }, `${gib(used)} / ${gib(total)} used`,
      h("span", { class: "jo-spacer" }), `${gib(Math.max(0, total - used))} free`),
    legend(segments, gib));
}

function utilization(percent) {
  if (percent === null || percent === undefined) return h("span", { class: "jo-muted", title: "NVML cannot read this GPU's utilization" }, "utilization n/a");
  return h("span", { class: "jo-util" }, h("meter", { min: 0, max: 100, value: percent, "aria-label": "GPU utilization" }), ` ${percent}% busy`);
}

function render({ model, el }) {
  el.classList.add("jo-widget", "jo-gpu");

  function draw() {
    const info = model.get("system") || {};
    const error = model.get("error");
    const parts = [];
    if (!info.ram) {
      parts.push(h("div", { class: "jo-muted jo-waiting" }, error ? "" : "Reading the server's devices…"));
    } else {
      const gpus = info.gpus || [];
      // One colour per model, the same on every device it appears on.
      const names = [...new Set([...gpus.flatMap((g) => g.models || []), ...(info.ram.models || [])].map((m) => m.name))].sort();
      const colors = new Map(names.map((name, i) => [name, i]));
      if (gpus.length) {
        for (const gpu of gpus) {
          parts.push(device(`GPU ${gpu.index} · ${gpu.name}`, utilization(gpu.utilization), gpu.memory_total, gpu.memory_used, gpu.models || [], colors));
        }
        if (!info.gpu_offload) {
          parts.push(h("div", { class: "jo-note" }, "This server's llama.cpp is a CPU build: models run on the CPU."));
        }
      } else {
        parts.push(h("div", { class: "jo-note jo-no-gpu" },
          h("strong", {}, "No NVIDIA GPU on the server"), " — models run on the CPU.",
          info.gpu_error ? h("div", { class: "jo-muted jo-detail" }, info.gpu_error) : null));
      }
      const ram = info.ram;
      const cpu = typeof info.cpu_percent === "number" ? h("span", { class: "jo-util" },
        h("meter", { min: 0, max: 100, value: info.cpu_percent, "aria-label": "CPU use" }), ` CPU ${info.cpu_percent.toFixed(0)}%`) : null;
      parts.push(device("RAM", cpu, ram.total, ram.used, ram.models || [], colors));
      if (!(ram.models || []).length && !gpus.some((g) => (g.models || []).length)) {
        parts.push(h("div", { class: "jo-muted jo-detail" }, "No model is loaded right now."));
      }
    }
    fill(el, h("div", { class: "jo-toolbar" }, h("span", { class: "jo-title" }, "Devices"),
      h("span", { class: "jo-muted" }, "on the server"), h("span", { class: "jo-spacer" })), ...parts, errorLine(error));
  }

  model.on("change:system", draw);
  model.on("change:error", draw);
  draw();
  return () => {
    model.off("change:system", draw);
    model.off("change:error", draw);
  };
}

export default { render };
