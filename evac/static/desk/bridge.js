/* The card-reader bridge simulator (/desk/bridge): posts the same JSON line a real bridge
 * delivers, on the BroadcastChannel the desk pages of this origin listen to. */

const channel = "BroadcastChannel" in window ? new BroadcastChannel("evac-card-reader") : null;

function send(message) {
  const line = JSON.stringify(message);
  if (channel) channel.postMessage(line);
  document.getElementById("bridge-sent").textContent = line;
}

document.getElementById("bridge-mynumber").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  send({type: "mynumber", card: {name: form.get("name"), address: form.get("address"),
                                 birth_date: form.get("birth_date"), sex: form.get("sex")}});
});

document.getElementById("bridge-ic").addEventListener("submit", (event) => {
  event.preventDefault();
  send({type: "ic", uid: new FormData(event.target).get("uid")});
});
