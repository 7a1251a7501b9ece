// Progressive touches only: every page works without this file.
document.addEventListener("click", (event) => {
  const target = event.target;
  if (target instanceof HTMLElement && target.hasAttribute("data-print")) {
    window.print();
  }
});
