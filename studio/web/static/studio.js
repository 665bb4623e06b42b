// Uploads with a progress bar. Without JavaScript the form posts normally.
document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-upload]")) {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const bar = form.querySelector("progress");
      const status = form.querySelector(".upload-status");
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      xhr.setRequestHeader("Accept", "application/json");
      bar.hidden = false;
      xhr.upload.addEventListener("progress", (e) => {
        if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
      });
      xhr.addEventListener("load", () => {
        if (xhr.status >= 200 && xhr.status < 300) {
          window.location.reload();
          return;
        }
        let msg = xhr.statusText;
        try { msg = JSON.parse(xhr.responseText).error.message; } catch (e) { /* not JSON */ }
        status.textContent = msg;
        status.className = "upload-status flash error";
        bar.hidden = true;
      });
      xhr.addEventListener("error", () => { status.textContent = form.dataset.networkError; bar.hidden = true; });
      xhr.send(new FormData(form));
    });
  }
});

// Live job progress on a work's page: poll while something is queued or running.
document.addEventListener("DOMContentLoaded", () => {
  const table = document.querySelector("table[data-jobs-url]");
  if (!table) return;
  const isActive = (state) => state === "waiting" || state === "queued" || state === "running";
  const active = () => [...table.querySelectorAll("tr[data-job]")].some((tr) => isActive(tr.dataset.last));
  const poll = async () => {
    const resp = await fetch(table.dataset.jobsUrl, { headers: { Accept: "application/json" } });
    if (!resp.ok) return;
    const { jobs } = await resp.json();
    let running = false;
    let finishedNow = false;
    for (const job of jobs) {
      const row = table.querySelector(`tr[data-job="${job.id}"]`);
      if (!row) { running = true; continue; }
      row.querySelector("progress").value = job.progress;
      row.querySelector(".job-error").textContent = job.error || "";
      row.querySelector(".job-state").textContent = job.state_label;
      // A job that ended can no longer be cancelled: its button goes as soon as it ends, not at the reload.
      if (!isActive(job.state)) row.querySelector("form.cancel-job")?.remove();
      const wasActive = isActive(row.dataset.last);
      if (isActive(job.state)) running = true;
      else if (wasActive) finishedNow = true;
      row.dataset.last = job.state;
    }
    if (finishedNow && !running) { window.location.reload(); return; }
    if (running) setTimeout(poll, 2000);
  };
  if (active()) poll();
});

// Side-by-side translation editor: saves segment by segment without reloading, shows memory and glossary
// suggestions for the focused segment, and moves with the keyboard. Without JavaScript each segment's form
// posts normally.
document.addEventListener("DOMContentLoaded", () => {
  const root = document.querySelector("[data-translation]");
  if (!root) return;
  const names = JSON.parse(root.dataset.statusNames);
  const rows = [...root.querySelectorAll("tr[data-segment]")];
  const panel = root.querySelector(".suggestions");
  const none = panel.querySelector("template[data-none]").innerHTML;
  const keep = panel.querySelector("template[data-keep]").innerHTML;
  let active = null;
  let shownVersion = -1;  // the translation's version the progress line shows

  const fill = (list, items, render) => {
    list.replaceChildren();
    if (!items.length) { const li = document.createElement("li"); li.textContent = none; list.append(li); return; }
    for (const item of items) list.append(render(item));
  };

  const suggest = async (row) => {
    active = row;
    for (const r of rows) r.classList.toggle("active", r === row);
    panel.querySelector("[data-for]").textContent = `#${row.dataset.segment}`;
    const resp = await fetch(root.dataset.suggestBase + row.dataset.segment + "/suggestions",
      { headers: { Accept: "application/json" } });
    if (!resp.ok || active !== row) return;
    const data = await resp.json();
    if (active !== row) return;  // the translator moved on while the body was arriving
    fill(panel.querySelector("[data-memory]"), data.memory, (m) => {
      const li = document.createElement("li");
      const use = document.createElement("button");
      use.type = "button";
      use.className = "link use-memory";
      use.textContent = `${Math.round(m.score * 100)}% · ${m.target}`;
      use.title = m.source;
      use.addEventListener("click", () => { const t = row.querySelector("textarea"); t.value = m.target; t.focus(); });
      li.append(use);
      return li;
    });
    fill(panel.querySelector("[data-glossary]"), data.glossary, (g) => {
      const li = document.createElement("li");
      li.textContent = `${g.source} → ${g.keep ? keep : g.target}`;
      return li;
    });
  };

  const show = (row, body) => {
    const seg = body.segment;
    row.className = `status-${seg.status}`;
    row.querySelector("[data-status]").textContent = names[seg.status];
    const v = row.querySelector("[data-violations]");
    v.replaceChildren();
    for (const item of seg.violations || []) {
      const span = document.createElement("span");
      span.className = "badge emergency";
      span.textContent = root.dataset.violationTemplate.replace("{term}", item.term).replace("{expected}", item.expected);
      v.append(span, " ");
    }
    // Two saves in flight can answer in either order: an older version's counts must not replace newer ones.
    if (body.version <= shownVersion) return;
    shownVersion = body.version;
    const progress = document.querySelector("#progress");
    progress.querySelector("progress").value = body.progress.percent;
    progress.querySelector("[data-progress-text]").textContent = root.dataset.progressTemplate
      .replace("{a}", body.progress.approved).replace("{n}", body.progress.total);
    progress.querySelector("[data-state]").textContent =
      body.state === "approved" ? root.dataset.stateApproved : root.dataset.stateDraft;
  };

  const go = (row, step) => {
    const next = rows[rows.indexOf(row) + step];
    if (next) { next.querySelector("textarea").focus(); next.scrollIntoView({ block: "center" }); }
  };

  const save = async (row, approve) => {
    const form = row.querySelector("form");
    const data = new FormData(form);
    data.set("approve", approve ? "1" : "0");
    let resp;
    try {
      resp = await fetch(form.action, { method: "POST", body: data,
        headers: { "X-Requested-With": "XMLHttpRequest", Accept: "application/json" } });
    } catch (e) {
      row.querySelector("[data-violations]").textContent = root.dataset.networkError;
      return false;
    }
    const body = await resp.json();
    if (!resp.ok) {
      const err = document.createElement("span");
      err.className = "flash error";
      err.textContent = body.error.message;
      row.querySelector("[data-violations]").replaceChildren(err);
      return false;
    }
    show(row, body);
    return true;
  };

  for (const row of rows) {
    const form = row.querySelector("form");
    const area = row.querySelector("textarea");
    area.addEventListener("focus", () => suggest(row));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const approve = ev.submitter && ev.submitter.value === "1";
      if (await save(row, approve) && approve) go(row, 1);
    });
    area.addEventListener("keydown", async (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        if (await save(row, true)) go(row, 1);
      } else if ((ev.key === "s" || ev.key === "S") && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        save(row, false);
      } else if (ev.altKey && ev.key === "ArrowDown") {
        ev.preventDefault(); go(row, 1);
      } else if (ev.altKey && ev.key === "ArrowUp") {
        ev.preventDefault(); go(row, -1);
      } else if (ev.altKey && ev.key === "1") {
        const first = panel.querySelector(".use-memory");
        if (first) { ev.preventDefault(); first.click(); }
      }
    });
  }
});

// The translation editor while its translate job (memory, then machine) runs: poll, and show the filled
// segments when it ends, by reloading unless the translator has typed something not yet saved.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-job-poll]");
  if (!box || !["waiting", "queued", "running"].includes(box.dataset.state)) return;
  let typed = false;
  document.addEventListener("input", (ev) => { if (ev.target.matches("textarea")) typed = true; });
  const poll = async () => {
    try {
      const resp = await fetch(box.dataset.jobPoll, { headers: { Accept: "application/json" } });
      const job = (await resp.json()).jobs.find((j) => String(j.id) === box.dataset.jobId);
      if (job && !["waiting", "queued", "running"].includes(job.state)) {
        if (!typed) { window.location.reload(); return; }
        box.textContent = box.dataset.arrived;
        return;
      }
      if (job) box.querySelector("progress").value = job.progress;
    } catch (e) { /* the next poll tries again */ }
    setTimeout(poll, 1500);
  };
  setTimeout(poll, 1000);
});

// A publication's chapters in the work form: add, move up or down and remove them before one save. Each
// chapter is a fieldset of two fields named alike, so the order on the page is the order saved.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-chapters]");
  if (!box) return;
  const add = document.querySelector("[data-add-chapter]");
  const all = () => [...box.querySelectorAll("fieldset.chapter")];
  const renumber = () => all().forEach((fs, i, list) => {
    fs.querySelector("legend").textContent = box.dataset.legend.replace("{n}", String(i + 1));
    fs.querySelector("[data-move='-1']").disabled = i === 0;
    fs.querySelector("[data-move='1']").disabled = i === list.length - 1;
    fs.querySelector("[data-remove]").disabled = list.length === 1;
  });
  // The empty chapter the page offers without JavaScript is not needed when chapters can be added at will.
  const chapters = all();
  const last = chapters[chapters.length - 1];
  if (chapters.length > 1 && !last.querySelector("input").value && !last.querySelector("textarea").value) last.remove();
  const template = all()[0].cloneNode(true);
  template.querySelector("input").value = "";
  template.querySelector("textarea").value = "";
  box.querySelectorAll(".chapter-tools").forEach((t) => { t.hidden = false; });
  add.hidden = false;
  box.addEventListener("click", (e) => {
    const button = e.target.closest("button");
    if (!button) return;
    const fs = button.closest("fieldset.chapter");
    if (button.dataset.move) {
      const step = Number(button.dataset.move);
      const other = step < 0 ? fs.previousElementSibling : fs.nextElementSibling;
      if (other) (step < 0 ? other.before(fs) : other.after(fs));
      button.focus();
    } else if (button.hasAttribute("data-remove")) {
      const next = fs.nextElementSibling || fs.previousElementSibling;
      fs.remove();
      next?.querySelector("input")?.focus();
    }
    renumber();
  });
  add.addEventListener("click", () => {
    const fs = template.cloneNode(true);
    fs.querySelector(".chapter-tools").hidden = false;
    box.append(fs);
    renumber();
    fs.querySelector("input").focus();
  });
  renumber();
});

// The programme's week: drag an item to another day; it sends the item's own "Move to" form with the new
// day and the same time (the form itself works with the keyboard and without JavaScript).
document.addEventListener("DOMContentLoaded", () => {
  const week = document.querySelector(".week");
  if (!week) return;
  let dragged = null;
  for (const li of week.querySelectorAll("li[draggable=true]")) {
    li.addEventListener("dragstart", (ev) => {
      dragged = li;
      ev.dataTransfer.effectAllowed = "move";
      ev.dataTransfer.setData("text/plain", li.dataset.item);
    });
  }
  for (const day of week.querySelectorAll(".day")) {
    day.addEventListener("dragover", (ev) => {
      const start = dragged && dragged.querySelector("form.move input[name=start]");
      if (start) { ev.preventDefault(); day.classList.add("drop"); }
    });
    day.addEventListener("dragleave", () => day.classList.remove("drop"));
    day.addEventListener("drop", (ev) => {
      ev.preventDefault();
      day.classList.remove("drop");
      const form = dragged && dragged.querySelector("form.move");
      const start = form && form.querySelector("input[name=start]");
      if (!start || !start.value) return;
      start.value = day.dataset.day + "T" + start.value.slice(11, 16);
      form.submit();
    });
  }
});
