// The API key the user pasted, kept for this browser tab only (sessionStorage).

const STORAGE_KEY = "nnservice.apiKey";

export function apiKey() {
  return sessionStorage.getItem(STORAGE_KEY) || "";
}

/** Wire the key form (present only when the server has keys); `onChange` after each change. */
export function setupKeyForm(onChange) {
  const form = document.getElementById("key-form");
  if (!form) return;
  const input = document.getElementById("api-key");
  const status = document.getElementById("key-status");
  const showStatus = () => {
    status.textContent = apiKey() ? "key set for this tab" : "no key: reads only";
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (key) sessionStorage.setItem(STORAGE_KEY, key);
    input.value = "";
    showStatus();
    onChange();
  });
  document.getElementById("key-forget").addEventListener("click", () => {
    sessionStorage.removeItem(STORAGE_KEY);
    showStatus();
    onChange();
  });
  showStatus();
}
