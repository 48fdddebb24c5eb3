/* MedAssist study viewer.
 *
 * The server sends each frame once as lossless modality values (e.g. HU for CT, see
 * imaging/viewer/rendering.py); windowing, inversion, zoom and pan happen here on a canvas,
 * so a window/level drag never waits for the network. State is mirrored into data-* attributes
 * of the viewer element (instance number, frame, wc, ww, invert, zoom, state) so the page
 * around it and the tests can read what is on screen.
 */
(() => {
  "use strict";

  const root = document.getElementById("viewer");
  if (!root) return;

  const $ = (selector) => root.querySelector(selector);
  const stage = $(".vw-stage");
  const canvas = $(".vw-canvas");
  const ctx = canvas.getContext("2d");
  const offscreen = document.createElement("canvas");
  const offctx = offscreen.getContext("2d");
  const slider = $('[data-action="slider"]');
  const message = $('[data-role="message"]');
  const playButton = $('[data-action="play"]');
  const fpsInput = $('[data-action="fps"]');
  const overlayButton = $('[data-action="overlay"]');
  const invertButton = $('[data-action="invert"]');

  const NO_OVERLAY = "no overlay for this image yet";
  const PREFETCH_AHEAD = 30;
  const PREFETCH_PARALLEL = 3;
  const MAX_FRAMES_KEPT = 400;

  const st = {
    manifest: null,
    series: null,
    images: [], // [{instance, frame}] in display order over the current series
    index: 0,
    current: null, // the decoded frame on screen
    wc: null,
    ww: null,
    windowTouched: false,
    invert: false,
    zoom: 1,
    panX: 0,
    panY: 0,
    tool: "window",
    playing: false,
    timer: null,
    overlayOn: false,
    overlayImage: null,
    frames: new Map(), // url -> Promise of a decoded frame
    paintToken: 0,
    renderKey: "",
  };

  // ---------------------------------------------------------------- loading frames

  const TYPED = {
    uint8: Uint8Array,
    int16: Int16Array,
    uint16: Uint16Array,
    float32: Float32Array,
    rgb8: Uint8Array,
  };

  function frameUrl(image) {
    return image.instance.frame_url_template.replace("{frame}", String(image.frame));
  }

  async function fetchFrame(url) {
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) {
      const text = (await response.text()).trim();
      throw new Error(text || `The image could not be loaded (HTTP ${response.status}).`);
    }
    const type = response.headers.get("X-Pixel-Type");
    const rows = Number(response.headers.get("X-Rows"));
    const columns = Number(response.headers.get("X-Columns"));
    const Typed = TYPED[type];
    if (!Typed) throw new Error(`The server sent pixels of an unknown type (${type}).`);
    const data = new Typed(await response.arrayBuffer());
    let min = Infinity;
    let max = -Infinity;
    if (type !== "rgb8") {
      for (let i = 0; i < data.length; i++) {
        const v = data[i];
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
    return { type, rows, columns, data, min, max };
  }

  function loadFrame(image) {
    const url = frameUrl(image);
    if (!st.frames.has(url)) {
      // Keep memory bounded on long cines: forget the frames fetched longest ago.
      while (st.frames.size >= MAX_FRAMES_KEPT) st.frames.delete(st.frames.keys().next().value);
      const promise = fetchFrame(url);
      // A failed fetch is not cached, so the next visit tries again.
      promise.catch(() => st.frames.delete(url));
      st.frames.set(url, promise);
    }
    return st.frames.get(url);
  }

  let prefetchQueue = [];
  let prefetching = 0;

  function prefetchAround(index) {
    // Nearest first, so scrolling on from here rarely waits.
    const order = [];
    for (let d = 1; d <= PREFETCH_AHEAD; d++) {
      if (index + d < st.images.length) order.push(index + d);
      if (index - d >= 0) order.push(index - d);
    }
    prefetchQueue = order.map((i) => st.images[i]).filter((img) => !st.frames.has(frameUrl(img)));
    pumpPrefetch();
  }

  function pumpPrefetch() {
    while (prefetching < PREFETCH_PARALLEL && prefetchQueue.length) {
      const image = prefetchQueue.shift();
      if (st.frames.has(frameUrl(image))) continue;
      prefetching++;
      loadFrame(image)
        .catch(() => {})
        .finally(() => {
          prefetching--;
          pumpPrefetch();
        });
    }
  }

  // ---------------------------------------------------------------- windowing and painting

  function fileWindow(image, frame) {
    const a = image.instance.attributes;
    if (a.window_center != null && a.window_width != null && a.window_width >= 1) {
      return [a.window_center, a.window_width];
    }
    if (frame && frame.type !== "rgb8" && Number.isFinite(frame.min)) {
      const width = Math.max(1, frame.max - frame.min);
      return [frame.min + width / 2, width];
    }
    return [127.5, 256];
  }

  function displayInverted(image) {
    // MONOCHROME1 stores dense as dark; show it the usual way round unless the user inverts.
    return (image.instance.attributes.photometric === "MONOCHROME1") !== st.invert;
  }

  // DICOM PS3.3 C.11.2.1.2.1 LINEAR window to 0..255.
  function windowed(x, lower, scale) {
    const g = (x - lower) * scale;
    return g <= 0 ? 0 : g >= 255 ? 255 : g;
  }

  function render(frame, image) {
    const key = [frameUrl(image), st.wc, st.ww, displayInverted(image)].join("|");
    if (key === st.renderKey) return;
    st.renderKey = key;
    const { rows, columns, data, type } = frame;
    if (offscreen.width !== columns || offscreen.height !== rows) {
      offscreen.width = columns;
      offscreen.height = rows;
    }
    const out = offctx.createImageData(columns, rows);
    const px = new Uint32Array(out.data.buffer);
    const invert = displayInverted(image);
    const n = rows * columns;
    if (type === "rgb8") {
      for (let i = 0, j = 0; i < n; i++, j += 3) {
        let r = data[j];
        let g = data[j + 1];
        let b = data[j + 2];
        if (invert) {
          r = 255 - r;
          g = 255 - g;
          b = 255 - b;
        }
        px[i] = 0xff000000 | (b << 16) | (g << 8) | r;
      }
    } else {
      const c = st.wc - 0.5;
      const w = Math.max(st.ww - 1, 1e-6);
      const lower = c - w / 2;
      const scale = 255 / w;
      const grey = (v) => {
        const g = Math.round(windowed(v, lower, scale));
        const k = invert ? 255 - g : g;
        return 0xff000000 | (k << 16) | (k << 8) | k;
      };
      if (type === "float32") {
        for (let i = 0; i < n; i++) px[i] = grey(data[i]);
      } else {
        // Integer pixels: one lookup table per window, then one lookup per pixel.
        const offset = type === "int16" ? 32768 : 0;
        const size = type === "uint8" ? 256 : 65536;
        const lut = new Uint32Array(size);
        for (let v = 0; v < size; v++) lut[v] = grey(v - offset);
        for (let i = 0; i < n; i++) px[i] = lut[data[i] + offset];
      }
    }
    offctx.putImageData(out, 0, 0);
  }

  function fitScale(frame, image) {
    const spacing = image.instance.attributes.pixel_spacing;
    // Pixel Spacing is (row spacing, column spacing): non-square pixels are drawn to scale.
    const aspect = spacing && spacing[0] > 0 && spacing[1] > 0 ? spacing[0] / spacing[1] : 1;
    const scale = Math.min(canvas.width / frame.columns, canvas.height / (frame.rows * aspect));
    return { sx: scale, sy: scale * aspect };
  }

  function paint() {
    const frame = st.current;
    const image = st.images[st.index];
    const dpr = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(stage.clientWidth * dpr));
    const height = Math.max(1, Math.round(stage.clientHeight * dpr));
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, width, height);
    if (!frame || !image) return;
    render(frame, image);
    const { sx, sy } = fitScale(frame, image);
    ctx.translate(width / 2 + st.panX * dpr, height / 2 + st.panY * dpr);
    ctx.scale(sx * st.zoom, sy * st.zoom);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(offscreen, -frame.columns / 2, -frame.rows / 2);
    if (st.overlayOn && st.overlayImage && st.overlayImage.complete) {
      ctx.globalAlpha = 0.45;
      ctx.drawImage(st.overlayImage, -frame.columns / 2, -frame.rows / 2, frame.columns, frame.rows);
      ctx.globalAlpha = 1;
    }
  }

  // ---------------------------------------------------------------- what the user reads

  function fmt(value) {
    if (value == null || !Number.isFinite(value)) return "—";
    if (Math.abs(value) >= 100 || Number.isInteger(value)) return String(Math.round(value));
    return String(Math.round(value * 100) / 100);
  }

  function text(value, unit = "") {
    if (value == null || value === "") return "—";
    if (typeof value === "number") return fmt(value) + unit;
    return String(value) + unit;
  }

  function isoDate(value) {
    return /^\d{8}$/.test(value || "")
      ? `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6)}`
      : value || "";
  }

  function showState() {
    const image = st.images[st.index];
    const isColour = st.current && st.current.type === "rgb8";
    root.dataset.wc = st.wc == null || isColour ? "" : fmt(st.wc);
    root.dataset.ww = st.ww == null || isColour ? "" : fmt(st.ww);
    root.dataset.invert = String(st.invert);
    root.dataset.zoom = String(Math.round(st.zoom * 100) / 100);
    $('[data-role="wc"]').textContent = root.dataset.wc || "—";
    $('[data-role="ww"]').textContent = root.dataset.ww || "—";
    $('[data-role="zoom"]').textContent = `Zoom ${Math.round(st.zoom * 100)}%`;
    invertButton.setAttribute("aria-pressed", String(st.invert));
    if (!image) return;
    const a = image.instance.attributes;
    root.dataset.instanceNumber = image.instance.instance_number ?? "";
    root.dataset.frame = String(image.frame);
    root.dataset.index = String(st.index);
    const frames = image.instance.frames > 1 ? ` · frame ${image.frame + 1}/${image.instance.frames}` : "";
    $('[data-role="position"]').textContent =
      `Im ${text(image.instance.instance_number)} · ${st.index + 1}/${st.images.length}${frames}`;
    $('[data-role="corner-tl"]').textContent =
      `${a.patient_name || st.manifest.study.patient} · ${isoDate(a.study_date)}\n${a.modality} ${a.series_description}`;
    slider.value = String(st.index + 1);
    const overlay = image.instance.overlay_url;
    overlayButton.disabled = !overlay;
    overlayButton.title = overlay ? "Show or hide the AI heatmap over the image" : NO_OVERLAY;
    overlayButton.setAttribute("aria-pressed", String(Boolean(overlay) && st.overlayOn));
    showAttributes(image);
  }

  function showAttributes(image) {
    const a = image.instance.attributes;
    const spacing = a.pixel_spacing ? a.pixel_spacing.map((v) => fmt(v)).join(" × ") + " mm" : "—";
    const rows = [
      ["Patient", `${a.patient_name || "—"} (${a.patient_id || "no ID"})`],
      ["Study date", isoDate(a.study_date) || "—"],
      ["Modality", a.modality || "—"],
      ["Series", `${a.series_number != null ? fmt(a.series_number) + " · " : ""}${a.series_description || "—"}`],
      ["Instance number", text(image.instance.instance_number)],
      ["Frame", `${image.frame + 1} of ${image.instance.frames}`],
      ["Rows × columns", `${a.rows} × ${a.columns}`],
      ["Pixel spacing", spacing],
      ["Slice thickness", text(a.slice_thickness, " mm")],
      ["Slice location", text(a.slice_location, " mm")],
      ["File WC / WW", a.window_center != null ? `${fmt(a.window_center)} / ${fmt(a.window_width)}` : "none (min–max)"],
      ["Shown WC / WW", `${root.dataset.wc || "—"} / ${root.dataset.ww || "—"}`],
      ["Photometric", a.photometric],
      ["Transfer syntax", a.transfer_syntax || "—"],
    ];
    const dl = $('[data-role="attributes"]');
    dl.replaceChildren(
      ...rows.flatMap(([term, value]) => {
        const dt = document.createElement("dt");
        dt.textContent = term;
        const dd = document.createElement("dd");
        dd.textContent = value;
        return [dt, dd];
      })
    );
  }

  function showMessage(textContent, isError = false) {
    message.textContent = textContent || "";
    message.hidden = !textContent;
    message.classList.toggle("vw-error", isError);
  }

  // ---------------------------------------------------------------- navigation

  async function show(index) {
    if (!st.images.length) return;
    index = Math.max(0, Math.min(st.images.length - 1, index));
    st.index = index;
    const token = ++st.paintToken;
    const image = st.images[index];
    let frame;
    try {
      frame = await loadFrame(image);
    } catch (error) {
      if (token !== st.paintToken) return;
      root.dataset.state = "error";
      showMessage(error.message, true);
      return;
    }
    // A later scroll has already asked for another image: don't paint this one over it.
    if (token !== st.paintToken) return;
    st.current = frame;
    if (!st.windowTouched || st.wc == null) [st.wc, st.ww] = fileWindow(image, frame);
    loadOverlay(image);
    showMessage("");
    paint();
    showState();
    root.classList.add("vw-live");
    root.dataset.state = "ready";
    prefetchAround(index);
  }

  function step(delta, wrap = false) {
    if (!st.images.length) return;
    let next = st.index + delta;
    if (wrap) next = (next + st.images.length) % st.images.length;
    show(next);
  }

  function selectSeries(series, startInstanceId) {
    stop();
    st.series = series;
    st.images = series.instances.flatMap((instance) =>
      Array.from({ length: instance.frames }, (_, frame) => ({ instance, frame }))
    );
    st.windowTouched = false;
    st.wc = st.ww = null;
    st.zoom = 1;
    st.panX = st.panY = 0;
    st.renderKey = "";
    slider.max = String(Math.max(1, st.images.length));
    playButton.disabled = st.images.length < 2;
    const first = series.instances[0];
    const rate = first && first.attributes.cine_rate;
    if (rate) fpsInput.value = String(Math.max(1, Math.min(60, Math.round(rate))));
    root.dataset.series = String(series.id);
    root.querySelectorAll(".vw-series button").forEach((b) => {
      b.setAttribute("aria-current", String(b.dataset.series === String(series.id)));
    });
    const start = st.images.findIndex((img) => String(img.instance.id) === String(startInstanceId));
    show(start >= 0 ? start : 0);
  }

  // ---------------------------------------------------------------- cine

  function play() {
    if (st.images.length < 2) return;
    st.playing = true;
    playButton.textContent = "Pause";
    playButton.setAttribute("aria-pressed", "true");
    const tick = () => {
      if (!st.playing) return;
      step(1, true);
      const fps = Math.max(1, Math.min(60, Number(fpsInput.value) || 10));
      st.timer = setTimeout(tick, 1000 / fps);
    };
    tick();
  }

  function stop() {
    st.playing = false;
    clearTimeout(st.timer);
    playButton.textContent = "Play";
    playButton.setAttribute("aria-pressed", "false");
  }

  // ---------------------------------------------------------------- tools

  function setWindow(center, width) {
    st.wc = center;
    st.ww = Math.max(1, width);
    st.windowTouched = true;
    paint();
    showState();
  }

  function reset() {
    const image = st.images[st.index];
    st.windowTouched = false;
    [st.wc, st.ww] = fileWindow(image, st.current);
    st.invert = false;
    st.zoom = 1;
    st.panX = st.panY = 0;
    paint();
    showState();
  }

  function zoomBy(factor) {
    st.zoom = Math.max(0.1, Math.min(20, st.zoom * factor));
    paint();
    showState();
  }

  function loadOverlay(image) {
    const url = image.instance.overlay_url;
    if (!url) {
      st.overlayImage = null;
      return;
    }
    if (st.overlayImage && st.overlayImage.dataset.url === url) return;
    const img = new Image();
    img.dataset.url = url;
    img.onload = () => paint();
    img.src = url;
    st.overlayImage = img;
  }

  function dragSensitivity() {
    // About 1000 pixels of drag sweep the whole value range of the frame.
    const f = st.current;
    if (!f || !Number.isFinite(f.min)) return 1;
    return Math.max((f.max - f.min) / 1000, 0.01);
  }

  let drag = null;

  stage.addEventListener("pointerdown", (event) => {
    stage.focus({ preventScroll: true });
    let mode = null;
    if (event.button === 2) mode = "window";
    else if (event.button === 1 || (event.button === 0 && event.shiftKey)) mode = "pan";
    else if (event.button === 0) mode = st.tool;
    if (!mode) return;
    event.preventDefault();
    stage.setPointerCapture(event.pointerId);
    drag = { mode, x: event.clientX, y: event.clientY };
  });

  stage.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const dx = event.clientX - drag.x;
    const dy = event.clientY - drag.y;
    drag.x = event.clientX;
    drag.y = event.clientY;
    if (drag.mode === "window" && st.current && st.current.type !== "rgb8") {
      const k = dragSensitivity();
      setWindow(st.wc + dy * k, st.ww + dx * k);
    } else if (drag.mode === "pan") {
      st.panX += dx;
      st.panY += dy;
      paint();
    } else if (drag.mode === "zoom") {
      zoomBy(Math.exp(-dy / 200));
    }
  });

  const endDrag = () => {
    drag = null;
  };
  stage.addEventListener("pointerup", endDrag);
  stage.addEventListener("pointercancel", endDrag);
  stage.addEventListener("contextmenu", (event) => event.preventDefault());

  let wheelDelta = 0;
  stage.addEventListener(
    "wheel",
    (event) => {
      event.preventDefault();
      const delta = event.deltaY * (event.deltaMode === 1 ? 33 : event.deltaMode === 2 ? 400 : 1);
      if (event.ctrlKey) {
        zoomBy(Math.exp(-delta / 500));
        return;
      }
      // A mouse notch is ~100 px; a touchpad sends many small deltas that add up.
      wheelDelta += delta;
      if (Math.abs(wheelDelta) >= 50) {
        step(Math.sign(wheelDelta));
        wheelDelta = 0;
      }
    },
    { passive: false }
  );

  const KEYS = {
    ArrowDown: () => step(1),
    ArrowRight: () => step(1),
    PageDown: () => step(10),
    ArrowUp: () => step(-1),
    ArrowLeft: () => step(-1),
    PageUp: () => step(-10),
    Home: () => show(0),
    End: () => show(st.images.length - 1),
    i: () => toggleInvert(),
    r: () => reset(),
    "+": () => zoomBy(1.25),
    "=": () => zoomBy(1.25),
    "-": () => zoomBy(0.8),
    " ": () => (st.playing ? stop() : play()),
  };

  stage.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const action = KEYS[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  });

  function toggleInvert() {
    st.invert = !st.invert;
    paint();
    showState();
  }

  root.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action], button[data-preset]");
    if (!button || button.disabled) return;
    if (button.dataset.preset) {
      const preset = st.manifest.presets.find((p) => p.key === button.dataset.preset);
      if (preset) setWindow(preset.center, preset.width);
      return;
    }
    const actions = {
      invert: toggleInvert,
      reset,
      "zoom-in": () => zoomBy(1.25),
      "zoom-out": () => zoomBy(0.8),
      play: () => (st.playing ? stop() : play()),
      overlay: () => {
        st.overlayOn = !st.overlayOn;
        paint();
        showState();
      },
    };
    const action = actions[button.dataset.action];
    if (action) action();
  });

  $('[data-action="tool"]').addEventListener("change", (event) => {
    st.tool = event.target.value;
    stage.dataset.tool = st.tool;
  });
  slider.addEventListener("input", () => show(Number(slider.value) - 1));
  new ResizeObserver(() => paint()).observe(stage);

  // ---------------------------------------------------------------- start

  function buildPresets(presets) {
    const holder = $(".vw-presets");
    holder.replaceChildren(
      ...presets.map((p) => {
        const b = document.createElement("button");
        b.type = "button";
        b.dataset.preset = p.key;
        b.textContent = p.label;
        b.title = `${p.label}: WC ${fmt(p.center)} / WW ${fmt(p.width)}`;
        return b;
      })
    );
  }

  function nonImageItem(series) {
    // Reports, RT objects, waveforms, PDFs...: listed as what they are, never opened.
    const b = document.createElement("button");
    b.type = "button";
    b.disabled = true;
    b.className = "vw-non-image";
    b.dataset.series = String(series.id);
    const kinds = [...new Set(series.non_images.map((o) => o.sop_class_name))].join(", ");
    b.title = `${series.description || series.series_instance_uid}: not an image, no AI`;
    const label = document.createElement("span");
    const count = series.non_images.length;
    label.textContent = `${series.modality} ${kinds}${count > 1 ? ` (${count})` : ""} · not an image: no AI`;
    b.append(label);
    return b;
  }

  function buildSeriesList(manifest) {
    const nav = $(".vw-series");
    nav.replaceChildren(
      ...manifest.series.map((series) => {
        if (!series.instances.length) return nonImageItem(series);
        const b = document.createElement("button");
        b.type = "button";
        b.dataset.series = String(series.id);
        b.title = series.description || series.series_instance_uid;
        if (series.thumbnail_url) {
          const img = document.createElement("img");
          img.src = series.thumbnail_url;
          img.alt = "";
          img.loading = "lazy";
          b.append(img);
        }
        const label = document.createElement("span");
        const number = series.number != null ? `S${fmt(series.number)} ` : "";
        label.textContent = `${number}${series.modality} ${series.description || ""} · ${series.images} image${series.images === 1 ? "" : "s"}`;
        b.append(label);
        b.addEventListener("click", () => selectSeries(series));
        return b;
      })
    );
  }

  function overlays() {
    const node = document.getElementById("viewer-overlays");
    try {
      const parsed = node ? JSON.parse(node.textContent) : null;
      return parsed && typeof parsed === "object" ? parsed : {};
    } catch {
      return {};
    }
  }

  async function start() {
    let manifest;
    try {
      const response = await fetch(root.dataset.manifestUrl, { credentials: "same-origin" });
      manifest = await response.json();
      if (!response.ok) throw new Error(manifest.error || `HTTP ${response.status}`);
    } catch (error) {
      root.dataset.state = "error";
      showMessage(`The study could not be loaded: ${error.message}`, true);
      return;
    }
    const extra = overlays();
    manifest.series.forEach((s) =>
      s.instances.forEach((i) => {
        if (extra[i.id]) i.overlay_url = extra[i.id];
      })
    );
    st.manifest = manifest;
    buildPresets(manifest.presets);
    buildSeriesList(manifest);
    const wanted = root.dataset.initialInstance;
    const series =
      manifest.series.find((s) => s.instances.some((i) => String(i.id) === wanted)) ||
      manifest.series.find((s) => s.instances.length);
    if (!series) {
      showMessage("This study has no images yet.");
      return;
    }
    selectSeries(series, wanted);
  }

  start();
})();
