// The pages' behaviour: they read and change the shop through its JSON API with fetch, the way a
// shop's front end does, so the API calls show up in the logs as the customer's own requests.
"use strict";

async function api(method, path, body) {
  const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

function money(cents) {
  return `$${(cents / 100).toFixed(2)}`;
}

function say(text) {
  const message = document.getElementById("message");
  if (message) message.textContent = text;
}

async function productPage(productId) {
  try {
    const product = await api("GET", `/api/products/${productId}`);
    document.getElementById("price").textContent = money(product.price_cents);
    document.getElementById("stock").textContent = product.in_stock ? "In stock" : "Sold out";
  } catch (error) {
    document.getElementById("stock").textContent = "Stock unknown right now.";
  }
  document.getElementById("add-to-cart").addEventListener("click", async () => {
    const quantity = Number(document.getElementById("quantity").value) || 1;
    try {
      const cart = await api("POST", "/api/cart", { product_id: productId, quantity });
      say(`Added. Your cart has ${cart.count} item(s).`);
    } catch (error) {
      say(`Sorry, we couldn't add it to your cart (${error.message}). Please try again.`);
    }
  });
  document.getElementById("add-to-wishlist").addEventListener("click", async () => {
    try {
      const result = await api("POST", "/api/wishlist", { product_id: productId });
      say(result.added ? "Saved to your wishlist." : "It's already on your wishlist.");
    } catch (error) {
      say(`Sorry, we couldn't save it (${error.message}).`);
    }
  });
}

async function cartPage() {
  const box = document.getElementById("cart-items");
  try {
    const cart = await api("GET", "/api/cart");
    if (cart.items.length === 0) {
      box.textContent = "Your cart is empty.";
      return;
    }
    box.replaceChildren(...cart.items.map((item) => {
      const row = document.createElement("p");
      row.textContent = `${item.quantity} × ${item.name} (${money(item.price_cents)})`;
      return row;
    }));
    const total = document.createElement("p");
    total.className = "price";
    total.textContent = `Total: ${money(cart.total_cents)}`;
    box.append(total);
    document.getElementById("to-checkout").hidden = false;
  } catch (error) {
    box.textContent = `We couldn't load your cart (${error.message}).`;
  }
}

async function orderPage(orderId) {
  const box = document.getElementById("order-status");
  try {
    const order = await api("GET", `/api/orders/${encodeURIComponent(orderId)}`);
    box.textContent = `${order.items.length} item(s), ${money(order.total_cents)}: ${order.status}.`;
  } catch (error) {
    box.textContent = `We couldn't load your order (${error.message}).`;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const { page, productId, orderId } = document.body.dataset;
  if (page === "product") productPage(Number(productId));
  else if (page === "cart") cartPage();
  else if (page === "order") orderPage(orderId);
});
