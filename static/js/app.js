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
