// The browser test call: microphone → websocket (20 ms PCM frames), the bot's 8 kHz frames → speakers,
// and what the bot heard and did, turn by turn. Protocol: ivr/telephony/webcall_protocol.py.
// No inline script (the page's CSP forbids it); text goes in with textContent only.
(function () {
  "use strict";
  var root = document.getElementById("call");
  if (!root) { return; }
  var BOT_RATE = 8000;
  var PLAYOUT_LEAD_S = 0.06;  // schedule the bot's audio this far ahead: Web Audio needs a little slack
  var KEEP_AUDIO_S = 120;  // the bot's audio kept in memory (window.webCall.audio), for checks and tests

  var $ = function (id) { return document.getElementById(id); };
  var statusEl = $("status"), turns = $("turns"), bytesEl = $("bytes");
  var startBtn = $("start"), textBtn = $("start-text"), hangupBtn = $("hangup");
  var typedForm = $("typed"), typedInput = $("typed-text");
  var keys = Array.prototype.slice.call(document.querySelectorAll(".key"));

  var state = { ws: null, ctx: null, mic: null, node: null, timer: null, nextTime: 0, sources: [],
                live: false, bytes: 0, audio: [], audioSamples: 0, callId: "", ended: "" };
  window.webCall = state;  // read by the browser test; harmless to expose on a test page

  function setStatus(text, kind) { statusEl.textContent = text; statusEl.dataset.state = kind; }
  function enable(on) {
    keys.forEach(function (k) { k.disabled = !on; });
    typedInput.disabled = !on; typedForm.querySelector("button").disabled = !on;
    hangupBtn.disabled = !on; startBtn.disabled = on; textBtn.disabled = on;
  }
  function line(cls, who, text, meta) {
    var li = document.createElement("li");
    li.className = cls;
    var w = document.createElement("span"); w.className = "who"; w.textContent = who; li.append(w);
    var t = document.createElement("span"); t.className = "text"; t.textContent = text; li.append(t);
    if (meta) { var m = document.createElement("span"); m.className = "meta"; m.textContent = meta; li.append(m); }
    turns.append(li);
    li.scrollIntoView({ block: "nearest" });
    return li;
  }
  function send(obj) { if (state.ws && state.ws.readyState === 1) { state.ws.send(JSON.stringify(obj)); } }

  // --- the bot's audio ---------------------------------------------------------------------
  function play(buffer) {
    var pcm = new Int16Array(buffer);
    state.bytes += buffer.byteLength;
    bytesEl.textContent = state.bytes.toLocaleString("ja-JP");
    state.audio.push(pcm);
    state.audioSamples += pcm.length;
    while (state.audioSamples > KEEP_AUDIO_S * BOT_RATE) { state.audioSamples -= state.audio.shift().length; }
    var ctx = state.ctx;
    if (!ctx) { return; }
    var audio = ctx.createBuffer(1, pcm.length, BOT_RATE);
    var data = audio.getChannelData(0);
    for (var i = 0; i < pcm.length; i++) { data[i] = pcm[i] / 32768; }
    var src = ctx.createBufferSource();
    src.buffer = audio;
    src.connect(ctx.destination);
    var at = Math.max(state.nextTime, ctx.currentTime + PLAYOUT_LEAD_S);
    src.start(at);
    state.nextTime = at + audio.duration;
    state.sources.push(src);
    src.onended = function () { var i = state.sources.indexOf(src); if (i >= 0) { state.sources.splice(i, 1); } };
  }
  function clearAudio() {
    state.sources.forEach(function (s) { try { s.stop(); } catch (e) { /* already stopped */ } });
    state.sources = []; state.nextTime = 0;
  }
  function markWhenPlayed(prompt) {  // like Twilio's marks: the caller has heard the prompt to its end
    var left = state.ctx ? Math.max(0, state.nextTime - state.ctx.currentTime) : 0;
    setTimeout(function () { send({ type: "mark", prompt: prompt }); }, left * 1000);
  }

  // --- what the server tells us --------------------------------------------------------------
  var ACTIONS = { answer: "回答", clarify: "確認・質問", transfer: "職員へ転送", ticket: "折り返し受付", end: "終話" };
  function onTurn(t) {
    if (t.kind === "greeting") { line("bot", "ボット", t.reply); return; }
    var heard = t.kind === "dtmf" ? t.heard : t.heard || (t.kind === "silence" ? "（無音）" : "（聞き取れませんでした）");
    var meta = t.kind === "speech" ? "認識 " + t.asr_ms + " ms" + (t.parts > 1 ? "・" + t.parts + " 区切りを1つに" : "") : "";
    line("caller", t.kind === "typed" ? "あなた（文字）" : "あなた", heard, meta);
    var what = (t.intent ? t.intent + " ／ " : "") + (ACTIONS[t.action] || t.action);
    if (t.reply) { line("bot", "ボット", t.reply, what); } else { line("event", "—", what); }
    (t.events || []).forEach(function (e) {
      if (e.kind === "ticket") {
        line("event ticket", "受付", "折り返しの受付を登録しました（" + (e.data.number || e.data.id || "") + "）");
      }
    });
  }
  function showError(message) {  // a burst of the same complaint (dropped frames) is one line with a count
    var last = turns.lastElementChild;
    if (last && last.classList.contains("error") && last.dataset.message === message) {
      var n = Number(last.dataset.count) + 1;
      last.dataset.count = String(n);
      last.querySelector(".text").textContent = message + "（×" + n + "）";
      return;
    }
    var li = line("event error", "エラー", message);
    li.dataset.message = message; li.dataset.count = "1";
  }
  function end(message, kind) {
    state.ended = kind;
    setStatus(message, kind);
    enable(false);
    stopMic();
    if (state.ws) { try { state.ws.close(); } catch (e) { /* gone */ } }
  }
  function onEvent(msg) {
    switch (msg.type) {
      case "ready": state.callId = msg.call_id; state.live = true; setStatus("通話中（" + msg.call_id + "）", "live"); enable(true); break;
      case "turn": onTurn(msg); break;
      case "prompt_done": markWhenPlayed(msg.prompt); break;
      case "clear": clearAudio(); break;
      case "transfer":
        line("event transfer", "転送", msg.message + (msg.target ? "（転送先: " + msg.target + "）" : ""));
        end("職員への転送で通話を終えました", "transfer"); break;
      case "hangup": end("ボットが通話を終えました", "ended"); break;
      case "error": showError(msg.message); break;
    }
  }

  // --- starting and ending ------------------------------------------------------------------
  function socketUrl() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var token = root.dataset.token;
    return scheme + location.host + root.dataset.ws + (token ? "?token=" + encodeURIComponent(token) : "");
  }
  function open(rate, onOpen) {
    var ws = new WebSocket(socketUrl());
    ws.binaryType = "arraybuffer";
    state.ws = ws;
    ws.onopen = function () { ws.send(JSON.stringify({ type: "start", rate: rate })); onOpen(); };
    ws.onmessage = function (ev) {
      if (typeof ev.data === "string") { onEvent(JSON.parse(ev.data)); } else { play(ev.data); }
    };
    ws.onclose = function () { state.live = false; if (!state.ended) { end("通話が切れました", "closed"); } };
  }
  function stopMic() {
    if (state.timer) { clearInterval(state.timer); state.timer = null; }
    if (state.node) { state.node.port.onmessage = null; state.node.disconnect(); state.node = null; }
    if (state.mic) { state.mic.getTracks().forEach(function (t) { t.stop(); }); state.mic = null; }
  }
  function reset() {
    turns.textContent = ""; state.bytes = 0; state.audio = []; state.audioSamples = 0; state.ended = "";
    bytesEl.textContent = "0";
  }
  async function startWithMic() {
    reset();
    setStatus("マイクを準備しています…", "connecting");
    try {
      state.ctx = state.ctx || new AudioContext();
      await state.ctx.resume();
      state.mic = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: false, autoGainControl: true } });
      await state.ctx.audioWorklet.addModule(root.dataset.worklet || "/static/capture-worklet.js");
    } catch (e) {
      stopMic();
      setStatus("マイクが使えません（" + e.name + "）。「マイクなしで始める」で文字とキーだけの通話ができます。", "error");
      return;
    }
    var source = state.ctx.createMediaStreamSource(state.mic);
    var node = new AudioWorkletNode(state.ctx, "capture-processor");
    state.node = node;
    var mute = state.ctx.createGain(); mute.gain.value = 0;  // the worklet must reach the output to run
    source.connect(node); node.connect(mute); mute.connect(state.ctx.destination);
    setStatus("接続しています…", "connecting");
    open(state.ctx.sampleRate, function () {
      node.port.onmessage = function (ev) { if (state.ws && state.ws.readyState === 1) { state.ws.send(ev.data); } };
    });
  }
  async function startWithoutMic() {  // the call's clock runs on audio: send the phone's silence
    reset();
    state.ctx = state.ctx || new AudioContext();
    await state.ctx.resume();
    setStatus("接続しています…", "connecting");
    var silence = new Int16Array(BOT_RATE / 50);
    open(BOT_RATE, function () {
      state.timer = setInterval(function () { if (state.ws.readyState === 1) { state.ws.send(silence.buffer); } }, 20);
    });
  }

  startBtn.addEventListener("click", startWithMic);
  textBtn.addEventListener("click", startWithoutMic);
  hangupBtn.addEventListener("click", function () { send({ type: "hangup" }); end("通話を切りました", "hungup"); });
  keys.forEach(function (k) {
    k.addEventListener("click", function () { send({ type: "dtmf", digit: k.dataset.key }); });
  });
  typedForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = typedInput.value.trim();
    if (!text) { return; }
    send({ type: "text", text: text });
    typedInput.value = "";
  });
  window.addEventListener("beforeunload", function () { send({ type: "hangup" }); });
}());
