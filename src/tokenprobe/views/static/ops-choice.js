/* The choice page (page.choice, views/encode_ops.py): the options ranked by the probability
 * the model gives each complete option after the prompt (their total logprobs normalised
 * across the options, as ops/choose.py computed them), with the raw totals and token
 * counts, and each option's tokens as chips with the popover of alternatives. The words
 * and look follow the web app's choice list. */
(function () {
  "use strict";

  var TP = window.TokenprobeViewer, Ops = window.TokenprobeOps;
  var D = TP.dom, F = TP.format, el = D.el, append = D.append;

  function render(root, page) {
    var ch = page.choice, n = ch.options.length;
    Ops.start(root, "ops-choice");
    var first = page.traces[ch.options[0].trace], req = (first && first.request) || {};
    var chat = !!(req.messages && req.messages.length);
    // A short prompt is the page's title; a long one or a chat gets its own card.
    var short = !chat && ch.prompt.length <= 100 && ch.prompt.indexOf("\n") < 0;
    root.appendChild(Ops.header({
      kind: "choose",
      title: page.title || (short ? ch.prompt : "Which option does the model believe?"),
      meta: [["options", n], ["model", ch.model], chat ? ["mode", "chat"] : null, ["", Ops.created(ch.created)]]
    }));
    if (!short) {
      var promptCard = Ops.card("After the prompt", null, "ops-choice-prompt");
      if (chat) {
        req.messages.forEach(function (m) {
          promptCard.appendChild(el("div", "tp-msg", [el("span", "tp-msg-role", String(m.role || "")),
            el("span", "tp-msg-content", String(m.content === undefined ? "" : m.content))]));
        });
      } else promptCard.appendChild(el("div", "ops-prompt-text", ch.prompt));
      root.appendChild(promptCard);
    }

    var order = ch.options.map(function (o, i) { return i; });
    order.sort(function (a, b) { return ch.options[b].probability - ch.options[a].probability || a - b; });
    var best = order[0];
    var rank = Ops.card("Which option the model believes", "Each option's total logprob after the prompt, normalised across the options (they sum to 100%).");
    var list = el("ol", "ops-choice-list");
    order.forEach(function (i, r) {
      var o = ch.options[i];
      var fill = el("span", "choice-fill ops-cfill");
      fill.style.width = Math.max(0.5, 100 * o.probability) + "%";
      var mean = o.n_tokens ? o.total_logprob / o.n_tokens : null;
      var row = el("li", "ops-choice-row" + (i === best ? " best" : ""), [
        el("span", "ops-choice-rank num", String(r + 1)),
        el("span", "ops-choice-opt", F.tokenNode(o.option)),
        el("span", "ops-ctrack", fill),
        el("span", "ops-choice-p num", F.pct(o.probability)),
        el("span", "ops-choice-lp num", "total logprob " + F.num(o.total_logprob, 3) + " \u00b7 " +
          F.plural(o.n_tokens, "token", "tokens") + (mean === null ? "" : " \u00b7 mean " + F.num(mean, 3)))]);
      // A reasoning model's thinking is not in the total: the option's own tokens are.
      if (o.thinking) row.appendChild(el("span", "ops-hint ops-part", o.thinking));
      row.dataset.option = String(i);
      row.dataset.p = String(o.probability);
      row.tabIndex = 0;
      row.title = "Show this option's tokens";
      row.addEventListener("click", function () { goTo(i); });
      row.addEventListener("keydown", function (e) { if (e.key === "Enter") goTo(i); });
      list.appendChild(row);
    });
    rank.appendChild(list);
    root.appendChild(rank);

    var detail = Ops.card("Token by token", "Each option's tokens after the prompt, coloured by the probability the model gave each; hover or focus a token for the alternatives it weighed there.");
    var legend = el("div", "tp-legend ops-choice-legend");
    order.forEach(function (i, r) {
      var o = ch.options[i], host = el("div", "ops-choice-text");
      var box = el("section", "ops-choice-detail", [
        el("div", "ops-choice-head", [Ops.badge(r + 1), el("span", "ops-choice-name", F.tokenNode(o.option)),
          el("span", "ops-choice-sum num", F.pct(o.probability) + " \u00b7 total " + F.num(o.total_logprob, 3))]), host]);
      if (o.thinking) box.appendChild(el("p", "ops-hint ops-part", o.thinking));
      box.dataset.option = String(i);
      detail.appendChild(box);
      var app = Ops.mountText(host, page.traces[o.trace]);
      box.appendChild(perToken(page.traces[o.trace]));
      if (r === 0 && app.legend) legend.appendChild(app.legend.cloneNode(true));
    });
    detail.appendChild(legend);
    root.appendChild(detail);
    Ops.ready();
    return { choice: ch };
  }

  // Each token's probability, as the terminal lists them.
  function perToken(doc) {
    var line = el("div", "ops-pertoken num");
    Ops.stepsOf(doc).forEach(function (s, k) {
      var item = el("span", "ops-pt", [F.tokenNode(s.label), " " + F.pct(Math.exp(s.lp))]);
      item.dataset.step = String(k);
      line.appendChild(item);
    });
    return line;
  }

  function goTo(i) {
    var box = document.querySelector('.ops-choice-detail[data-option="' + i + '"]');
    if (box) { box.scrollIntoView({ block: "center", behavior: "smooth" }); box.classList.add("ops-flash"); setTimeout(function () { box.classList.remove("ops-flash"); }, 1200); }
  }

  Ops.register({
    match: function (page) { return !!(page.choice && page.choice.options); },
    render: render
  });
})();
