// cardvault web app: a little JavaScript of our own. Every page works without it.
// Upload: one request per file with progress. Review: click a box to edit its value, keys.
(function () {
  "use strict";

  function uploadPage(form) {
    var input = document.getElementById("images");
    var drop = document.getElementById("drop");
    var section = document.getElementById("progress-section");
    var list = document.getElementById("progress");
    if (!input || !window.FormData || !window.XMLHttpRequest) return;
    ["dragenter", "dragover"].forEach(function (name) {
      drop.addEventListener(name, function (e) { e.preventDefault(); drop.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      drop.addEventListener(name, function (e) { e.preventDefault(); drop.classList.remove("over"); });
    });
    drop.addEventListener("drop", function (e) { if (e.dataTransfer.files.length) input.files = e.dataTransfer.files; });

    function row(file) {
      var li = document.createElement("li");
      var name = document.createElement("span");
      name.className = "file";
      name.textContent = file.name;
      var bar = document.createElement("progress");
      bar.max = 100; bar.value = 0;
      bar.setAttribute("aria-label", "Upload of " + file.name);
      var state = document.createElement("span");
      state.className = "state";
      state.textContent = "waiting";
      li.appendChild(name); li.appendChild(bar); li.appendChild(state);
      list.appendChild(li);
      return { li: li, bar: bar, state: state };
    }

    function send(file, ui, done) {
      var data = new FormData();
      ["csrf", "batch", "basis", "basis_text"].forEach(function (key) {
        var field = form.elements[key];
        if (field && field.value !== undefined) data.append(key, field.value);
      });
      var basis = form.querySelector("input[name=basis]:checked");
      if (basis) data.set("basis", basis.value);
      form.querySelectorAll("input[name=uses]:checked").forEach(function (box) { data.append("uses", box.value); });
      data.append("images", file, file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action + "/file");
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) { ui.bar.value = Math.round(100 * e.loaded / e.total); ui.state.textContent = "uploading"; }
      };
      xhr.upload.onload = function () { ui.bar.value = 100; ui.state.textContent = "reading the card…"; };
      xhr.onload = function () {
        var result = null;
        try { result = JSON.parse(xhr.responseText); } catch (err) { result = null; }
        ui.bar.remove();
        if (result && result.ok) {
          ui.li.className = "ok";
          ui.state.textContent = result["new"] ? "new card" : "uploaded before";
          var link = document.createElement("a");
          link.href = result.url;
          link.textContent = "Review card " + result.card_id;
          ui.li.appendChild(link);
        } else {
          ui.li.className = "failed";
          ui.state.className = "error";
          ui.state.textContent = "Not stored: " + ((result && result.error) || ("HTTP " + xhr.status));
        }
        done();
      };
      xhr.onerror = function () { ui.li.className = "failed"; ui.state.textContent = "Network error"; done(); };
      xhr.send(data);
    }

    form.addEventListener("submit", function (e) {
      if (!input.files.length || !form.checkValidity()) return;
      e.preventDefault();
      var files = Array.prototype.slice.call(input.files);
      list.textContent = "";
      section.hidden = false;
      var rows = files.map(row);
      var next = 0, running = 0, limit = 2;
      function pump() {
        while (running < limit && next < files.length) {
          var i = next++;
          running++;
          rows[i].state.textContent = "uploading";
          send(files[i], rows[i], function () { running--; pump(); });
        }
      }
      pump();
    });
  }

  function reviewPage() {
    var form = document.getElementById("values-form");
    if (!form) return;
    var inputs = Array.prototype.slice.call(form.querySelectorAll(".value input"));
    function mark(input, on) {
      var box = document.getElementById(input.getAttribute("data-box"));
      if (box) box.classList.toggle("active", on);
      input.closest(".value").classList.toggle("active", on);
    }
    inputs.forEach(function (input, i) {
      input.addEventListener("focus", function () { mark(input, true); });
      input.addEventListener("blur", function () { mark(input, false); });
      input.addEventListener("keydown", function (e) {
        if (e.key !== "Enter") return;
        e.preventDefault();
        if (e.ctrlKey || e.metaKey) {
          var next = document.getElementById("save-next");
          form.requestSubmit(next || undefined);
        } else if (i + 1 < inputs.length) {
          inputs[i + 1].focus();
          inputs[i + 1].select();
        } else {
          form.requestSubmit();
        }
      });
    });
    document.querySelectorAll(".overlay a").forEach(function (link) {
      function open(e) {
        e.preventDefault();
        var input = document.getElementById(link.getAttribute("data-input"));
        if (input) { input.focus(); input.select(); input.scrollIntoView({ block: "nearest" }); }
      }
      link.addEventListener("click", open);
      link.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") open(e); });
    });
    document.addEventListener("keydown", function (e) {
      var tag = (e.target.tagName || "").toLowerCase();
      if (tag === "input" || tag === "textarea" || tag === "select" || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "n") {
        var next = document.getElementById("next-card");
        if (next) window.location.href = next.href;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var upload = document.getElementById("upload-form");
    if (upload) uploadPage(upload);
    reviewPage();
  });
})();
