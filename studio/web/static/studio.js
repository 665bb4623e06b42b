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
