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
  const active = () => [...table.querySelectorAll("tr[data-job]")].some(
    (tr) => tr.dataset.last === "queued" || tr.dataset.last === "running");
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
      const wasActive = row.dataset.last === "queued" || row.dataset.last === "running";
      if (job.state === "queued" || job.state === "running") running = true;
      else if (wasActive) finishedNow = true;
      row.dataset.last = job.state;
    }
    if (finishedNow && !running) { window.location.reload(); return; }
    if (running) setTimeout(poll, 2000);
  };
  if (active()) poll();
});
