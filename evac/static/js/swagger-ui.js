/* Starts the vendored Swagger UI at /api/v1/docs from the page's JSON configuration block
 * (an inline script would be refused by the Content-Security-Policy). */
window.addEventListener("load", () => {
  const config = JSON.parse(document.getElementById("swagger-ui-config").textContent);
  window.ui = window.SwaggerUIBundle(config);
});
