// Bulk DICOM upload with a progress bar.
//
// Without this script the page is a plain multi-file form and the server renders the same
// summary. With it, the selection is sent in batches (so a folder of hundreds of files stays
// under the server's per-request limits), a progress bar follows the bytes actually sent, and
// the per-batch answers are added up into one summary. Names and reasons are inserted as text,
// never as HTML: a file name is whatever the sender's disk called it.
(function () {
  "use strict";

  var form = document.getElementById("upload-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) {
    return;
  }
  var fileInput = document.getElementById("id_file");
  var folderInput = document.getElementById("id_folder");
  var box = document.getElementById("upload-progress-box");
  var bar = document.getElementById("upload-progress");
  var text = document.getElementById("upload-progress-text");
  var summaryEl = document.getElementById("upload-summary");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  var MAX_FILES_PER_BATCH = 50;
  var maxRequest = parseInt(form.dataset.maxRequestBytes || "0", 10) || 256 * 1024 * 1024;
  // Leave room for the multipart framing around each file.
  var MAX_BYTES_PER_BATCH = Math.min(64 * 1024 * 1024, Math.floor(maxRequest * 0.9));

  function isJunk(file) {
    var path = file.webkitRelativePath || file.name;
    var base = file.name.toLowerCase();
    return (
      path.indexOf("__MACOSX/") !== -1 ||
      base === ".ds_store" ||
      base === "thumbs.db" ||
      base === "desktop.ini" ||
      base.indexOf("._") === 0
    );
  }

  function isZip(file) {
    return /\.zip$/i.test(file.name);
  }

  function batchesOf(files) {
    var batches = [];
    var current = [];
    var bytes = 0;
    files.forEach(function (file) {
      // A .zip travels alone: the server unpacks it and may spend its whole budget on it.
      var alone = isZip(file) || file.size >= MAX_BYTES_PER_BATCH;
      if (
        current.length &&
        (alone || current.length >= MAX_FILES_PER_BATCH || bytes + file.size > MAX_BYTES_PER_BATCH)
      ) {
        batches.push(current);
        current = [];
        bytes = 0;
      }
      current.push(file);
      bytes += file.size;
      if (alone) {
        batches.push(current);
        current = [];
        bytes = 0;
      }
    });
    if (current.length) {
      batches.push(current);
    }
    return batches;
  }

  function setProgress(fraction, message) {
    var percent = Math.max(0, Math.min(100, Math.round(fraction * 100)));
    bar.value = percent;
    text.textContent = message || percent + " %";
  }

  function rejectAll(batch, reason) {
    return {
      stored: 0,
      duplicates: 0,
      rejected: batch.length,
      studies: [],
      items: batch.map(function (file) {
        return { name: file.name, outcome: "rejected", reason: reason, case_url: "" };
      }),
    };
  }

  function send(batch, onProgress) {
    return new Promise(function (resolve) {
      var data = new FormData();
      data.append("csrfmiddlewaretoken", csrf);
      batch.forEach(function (file) {
        data.append("file", file, file.name);
      });
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) {
          onProgress(event.loaded / event.total);
        }
      });
      xhr.addEventListener("load", function () {
        var answer = null;
        try {
          answer = JSON.parse(xhr.responseText);
        } catch (err) {
          answer = null;
        }
        if (xhr.status === 200 && answer && answer.items) {
          resolve(answer);
        } else if (answer && answer.detail) {
          resolve(rejectAll(batch, answer.detail));
        } else {
          resolve(
            rejectAll(
              batch,
              "The server answered HTTP " + xhr.status + "; are you still signed in?"
            )
          );
        }
      });
      xhr.addEventListener("error", function () {
        resolve(rejectAll(batch, "The connection to the server failed; nothing was sent."));
      });
      xhr.send(data);
    });
  }

  function element(tag, attrs, textContent) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      el.setAttribute(key, attrs[key]);
    });
    if (textContent !== undefined) {
      el.textContent = textContent;
    }
    return el;
  }

  function plural(n, word) {
    return word + (n === 1 ? "" : "s");
  }

  function showSummary(total) {
    summaryEl.textContent = "";
    summaryEl.appendChild(element("h2", {}, "Upload summary"));
    var line = element("p");
    line.appendChild(element("strong", { "data-testid": "stored-count" }, String(total.stored)));
    line.appendChild(document.createTextNode(" stored, "));
    line.appendChild(
      element("strong", { "data-testid": "duplicate-count" }, String(total.duplicates))
    );
    line.appendChild(
      document.createTextNode(
        " " + plural(total.duplicates, "duplicate") + " (already stored, nothing changed), "
      )
    );
    line.appendChild(element("strong", { "data-testid": "rejected-count" }, String(total.rejected)));
    line.appendChild(document.createTextNode(" rejected."));
    summaryEl.appendChild(line);

    if (total.studies.length) {
      summaryEl.appendChild(element("h3", {}, "Studies"));
      var list = element("ul", { class: "studies", "data-testid": "studies" });
      total.studies.forEach(function (study) {
        var li = element("li");
        li.appendChild(
          element("a", { href: study.case_url }, study.description || study.study_instance_uid)
        );
        li.appendChild(
          element(
            "span",
            { class: "meta" },
            " " + study.patient + " · " + study.images + " " + plural(study.images, "image") +
              (study.non_images
                ? " · " + study.non_images + " " + plural(study.non_images, "non-image object") +
                  " (reports, documents…: not images, no AI)"
                : "")
          )
        );
        list.appendChild(li);
      });
      summaryEl.appendChild(list);
    }

    var rejected = total.items.filter(function (item) {
      return item.outcome === "rejected";
    });
    if (rejected.length) {
      summaryEl.appendChild(element("h3", {}, "Rejected files"));
      var table = element("table", { class: "list rejected", "data-testid": "rejected" });
      var head = element("thead");
      var headRow = element("tr");
      headRow.appendChild(element("th", {}, "File"));
      headRow.appendChild(element("th", {}, "Why it was not stored"));
      head.appendChild(headRow);
      table.appendChild(head);
      var body = element("tbody");
      rejected.forEach(function (item) {
        var row = element("tr");
        row.appendChild(element("td", {}, item.name));
        row.appendChild(element("td", { class: "error" }, item.reason));
        body.appendChild(row);
      });
      table.appendChild(body);
      summaryEl.appendChild(table);
    }
    summaryEl.hidden = false;
  }

  function merge(total, answer) {
    total.stored += answer.stored;
    total.duplicates += answer.duplicates;
    total.rejected += answer.rejected;
    total.items = total.items.concat(answer.items);
    answer.studies.forEach(function (study) {
      var known = total.studies.find(function (s) {
        return s.study_instance_uid === study.study_instance_uid;
      });
      if (known) {
        // A study seen first with only reports opens its viewer; once it has an image,
        // its case page.
        if (!known.images && study.images) known.case_url = study.case_url;
        known.images += study.images;
        known.non_images = (known.non_images || 0) + (study.non_images || 0);
      } else {
        total.studies.push(study);
      }
    });
  }

  form.addEventListener("submit", function (event) {
    var picked = Array.prototype.slice.call(fileInput.files || []);
    var inFolder = Array.prototype.slice.call((folderInput && folderInput.files) || []);
    var files = picked.concat(inFolder).filter(function (file) {
      return !isJunk(file);
    });
    if (!files.length) {
      return; // the server explains what to choose
    }
    event.preventDefault();
    var single = picked.length === 1 && inFolder.length === 0 && !isZip(picked[0]);
    var batches = batchesOf(files);
    var totalBytes = files.reduce(function (sum, file) {
      return sum + file.size;
    }, 0) || 1;
    var sentBytes = 0;
    var total = { stored: 0, duplicates: 0, rejected: 0, items: [], studies: [] };
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    box.hidden = false;
    bar.removeAttribute("data-state");
    summaryEl.hidden = true;
    setProgress(0, "Sending " + files.length + " " + plural(files.length, "file") + "…");

    var chain = Promise.resolve();
    batches.forEach(function (batch) {
      var batchBytes = batch.reduce(function (sum, file) {
        return sum + file.size;
      }, 0);
      chain = chain.then(function () {
        return send(batch, function (fraction) {
          setProgress((sentBytes + fraction * batchBytes) / totalBytes);
        }).then(function (answer) {
          sentBytes += batchBytes;
          merge(total, answer);
          setProgress(sentBytes / totalBytes);
        });
      });
    });
    chain.then(function () {
      var redirectTo = single && total.items.length === 1 && total.items[0].case_url;
      if (redirectTo) {
        window.location.assign(redirectTo);
        return;
      }
      setProgress(1, "Done: " + files.length + " " + plural(files.length, "file") + " sent.");
      bar.setAttribute("data-state", "done");
      button.disabled = false;
      form.reset();
      showSummary(total);
    });
  });
})();
