// When an htmx request fails (server error, network down), say so: a page that silently
// keeps showing old numbers is worse than one that admits it could not refresh them.
(function () {
  function show(text) {
    var banner = document.getElementById("connection-error");
    if (!banner) return;
    banner.textContent = text;
    banner.hidden = false;
  }
  function hide() {
    var banner = document.getElementById("connection-error");
    if (banner) banner.hidden = true;
  }
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : "?";
    show("The server answered " + status + ": this part of the page was not updated and " +
         "nothing may have been recorded. Reload the page to see the current numbers.");
  });
  document.addEventListener("htmx:sendError", function () {
    show("The hub could not be reached: this part of the page was not updated. " +
         "Check the connection and try again.");
  });
  document.addEventListener("htmx:afterSwap", hide);
})();

// Live parts ([data-live] with hx-trigger="every 2s") refresh themselves, but never under
// a person's hands: a tick is skipped while focus is in one of its fields, while a box is
// ticked, a field typed in or a choice changed and not yet sent, while a disclosure is
// open, or while the tab is hidden.
(function () {
  function changed(control) {
    if (control.type === "hidden" || control.type === "submit" || control.type === "button") return false;
    if (control.type === "checkbox" || control.type === "radio") return control.checked !== control.defaultChecked;
    if (control.tagName === "SELECT") {
      for (var i = 0; i < control.options.length; i++) {
        if (control.options[i].selected !== control.options[i].defaultSelected) return true;
      }
      return false;
    }
    return control.value !== control.defaultValue;
  }
  function busy(live) {
    var active = document.activeElement;
    if (active && live.contains(active) && active.matches("input, select, textarea")) return true;
    if (live.querySelector("details[open]")) return true;
    var controls = live.querySelectorAll("input, select, textarea");
    for (var i = 0; i < controls.length; i++) {
      if (changed(controls[i])) return true;
    }
    return false;
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt || !elt.hasAttribute || !elt.hasAttribute("data-live")) return;
    if (event.detail.requestConfig && event.detail.requestConfig.verb !== "get") return;
    // A poller that swaps other parts by id (hx-swap-oob) names them in data-live-watch.
    var watched = elt.getAttribute("data-live-watch");
    var parts = watched ? document.querySelectorAll(watched) : [elt];
    var anyBusy = false;
    for (var i = 0; i < parts.length; i++) anyBusy = anyBusy || busy(parts[i]);
    if (document.hidden || anyBusy) event.preventDefault();
  });
  // A "select all" box ticks every box named in its data-select-all, in its form.
  document.addEventListener("change", function (event) {
    var name = event.target.getAttribute && event.target.getAttribute("data-select-all");
    if (!name || !event.target.form) return;
    var boxes = event.target.form.querySelectorAll('input[type="checkbox"][name="' + name + '"]');
    for (var i = 0; i < boxes.length; i++) boxes[i].checked = event.target.checked;
  });
})();

// Counts: while a file uploads, the bar shows the bytes sent (htmx's upload progress
// event); once they are all sent the bar has no value, which browsers draw as "working",
// because the server's check takes as long as it takes and we do not invent a percentage.
(function () {
  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = event.target.closest ? event.target.closest("form") : null;
    var bar = form ? form.querySelector("progress[data-upload-progress]") : null;
    if (!bar || !event.detail.lengthComputable) return;
    if (event.detail.loaded < event.detail.total) {
      bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
    } else {
      bar.removeAttribute("value");
    }
  });
})();
