// Small conveniences only: every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Ask before a rejection (the approve button needs no second thought beyond the note).
  for (const form of document.querySelectorAll("form[data-confirm-reject]")) {
    form.addEventListener("submit", (event) => {
      const button = event.submitter;
      if (button && button.value === "reject" && !window.confirm("Reject these answers?")) {
        event.preventDefault();
      }
    });
  }
});
