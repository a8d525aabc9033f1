// Starts Swagger UI on a service's /docs page (boxoffice.core.docs): a file, not an inline
// script, so the docs page's Content-Security-Policy needs no 'unsafe-inline' for scripts.
"use strict";
const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  // No badge from the public validator: the docs make no request to another host.
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
});
