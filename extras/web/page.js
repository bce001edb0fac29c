// The page of `python serve.py`: record the microphone (Web Audio samples, written as 16-bit PCM WAV here) or
// take a dropped file, POST it to /api/profile, show the answer, then POST it to /api/figures and show the
// pictures. extras/web.py describes the API; nothing here is fetched from outside this server.
"use strict";

const TEXT = {
  en: {
    title: "Your voice, step by step", language: "Language", record: "● Record", stop: "■ Stop and profile",
    lead: "Record a few seconds of speech or drop a file. The model guesses who is speaking; below its answer, " +
      "every step from the waveform to the model's input is drawn from your recording.",
    drop: "Drop an audio file here, or", choose: "choose one", profile: "Profile",
    pipeline: "The pipeline, drawn from this recording",
    limits: (mb, s) => `WAV, FLAC, MP3 or Ogg; at most ${mb} MB and ${s} s. Nothing is kept after the answer.`,
    profiling: "Profiling…", drawing: "Drawing the pipeline…", done: "Done.",
    too_big: (mb) => `The file is larger than ${mb} MB.`, no_mic: "No microphone: ",
    then: "then", years: "years", duration: "Recording", no_warnings: "No warnings: a clean recording.",
    unsure: (name, p) => `unsure; next: ${name} (${p}%)`, not_profiled: "not profiled",
    timing: (answer, figures) => `Answer in ${answer} s` + (figures ? `, pictures in ${figures} s` : "") +
      " (upload to answer, measured in this browser).",
    model: (i) => `Model: ${i.model} on ${i.input}${i.run ? ` (run ${i.run})` : ""}; tasks: ${i.tasks.join(", ")}.`,
    tasks: { gender: "Gender", age: "Age group", age_years: "Age", dialect: "Dialect" },
    captions: {
      "1_waveform": "The waveform, and a zoom on one frame: a 25 ms window every 10 ms.",
      "2_frame": "That frame under its Hann window, and its power spectrum.",
      "3_mel_filterbank": "40 mel triangles over the spectrum: the energy in each band.",
      "4_features": "The log-mel spectrogram, 13 MFCCs (its DCT), their deltas and delta-deltas.",
      "5_yin": "YIN on the same frame: the difference function and the threshold that picks the period.",
      "6_f0_track": "The F0 track (YIN) over the spectrogram's low band.",
      "7_model_input": "The model's input: the first 4 s window, three channels of 14 rows.",
      "8_lpc_envelope": "The vocal tract on the same frame: the LPC envelope over its spectrum; its peaks are the " +
        "formants F1–F4.",
      "9_formant_tracks": "The formant tracks over the spectrogram; their spacing gives the vocal-tract length in cm.",
    },
  },
  ko: {
    title: "내 목소리, 한 단계씩", language: "언어", record: "● 녹음", stop: "■ 멈추고 분석",
    lead: "몇 초 동안 말하며 녹음하거나 파일을 끌어다 놓으세요. 모델이 화자를 추정하고, 그 아래에 파형에서 " +
      "모델 입력까지의 모든 단계를 여러분의 녹음으로 그립니다.",
    drop: "오디오 파일을 여기에 끌어다 놓거나", choose: "파일 선택", profile: "프로필",
    pipeline: "이 녹음으로 그린 처리 과정",
    limits: (mb, s) => `WAV, FLAC, MP3, Ogg; 최대 ${mb} MB, ${s}초. 답한 뒤에는 아무것도 남기지 않습니다.`,
    profiling: "분석 중…", drawing: "처리 과정을 그리는 중…", done: "완료.",
    too_big: (mb) => `파일이 ${mb} MB보다 큽니다.`, no_mic: "마이크를 쓸 수 없습니다: ",
    then: "다음", years: "세", duration: "녹음 길이", no_warnings: "경고 없음: 깨끗한 녹음입니다.",
    unsure: (name, p) => `불확실; 다음: ${name} (${p}%)`, not_profiled: "프로필 없음",
    timing: (answer, figures) => `답까지 ${answer}초` + (figures ? `, 그림까지 ${figures}초` : "") +
      " (업로드부터 답까지, 이 브라우저에서 잰 시간).",
    model: (i) => `모델: ${i.model}, 입력 ${i.input}${i.run ? ` (실행 ${i.run})` : ""}; 과제: ${i.tasks.join(", ")}.`,
    tasks: { gender: "성별", age: "연령대", age_years: "나이", dialect: "방언" },
    captions: {
      "1_waveform": "파형과 한 프레임의 확대: 10 ms마다 25 ms 창.",
      "2_frame": "Hann 창을 씌운 그 프레임과 파워 스펙트럼.",
      "3_mel_filterbank": "스펙트럼 위의 멜 삼각 필터 40개: 대역마다의 에너지.",
      "4_features": "로그 멜 스펙트로그램, MFCC 13개 (DCT), 델타와 델타-델타.",
      "5_yin": "같은 프레임의 YIN: 차분 함수와 주기를 고르는 문턱값.",
      "6_f0_track": "스펙트로그램 저대역 위의 F0 궤적 (YIN).",
      "7_model_input": "모델 입력: 첫 4초 창, 14행짜리 채널 세 개.",
      "8_lpc_envelope": "같은 프레임의 성도: 스펙트럼 위의 LPC 포락선. 봉우리가 포먼트 F1–F4입니다.",
      "9_formant_tracks": "스펙트로그램 위의 포먼트 궤적. 포먼트 간격으로 성도 길이(cm)를 잽니다.",
    },
    // class names in Korean; the server lists age groups in age order (extras/web.py in_age_order)
    classes: { female: "여성", male: "남성", child: "어린이", teen: "청소년", adult: "성인", senior: "노년" },
    // extras/recording.py's warnings, by their first word; n: the numbers of the English sentence, in order
    warnings: {
      synthetic: () => "합성: 이 모델은 내장 합성 음성으로만 배웠습니다. 실제 목소리에 대한 답은 시연일 뿐 프로필이 " +
        "아닙니다 (실행 폴더 없이 evaluate.py --wav를 쓰면 공개 모델을 씁니다)",
      short: (n) => `짧음: 오디오 ${n[0]}초 (${n[1]}초 이상이면 프로필이 더 확실합니다)`,
      quiet: (n) => `작음: 최고 레벨 ${n[0]} dBFS`,
      clipped: (n) => `클리핑: 샘플의 ${n[0]}%가 최대 레벨`,
      "band-limited": (n) => `대역 제한: 5 kHz 위가 거의 없음 (${n[1]} dB 낮음), 전화나 8 kHz 파일처럼`,
      noisy: (n) => `잡음: 큰 프레임과 작은 프레임의 차이가 ${n[0]} dB뿐 (잡음이 말 사이를 채움)`,
      "little voice": (n) => `목소리 적음: 프레임의 ${n[0]}%만 유성음`,
      "unfamiliar channel": (n) => `낯선 채널: 평균 켑스트럼이 학습 녹음에서 표준편차 ${n[0]}배 떨어져 있음`,
      "no voice": (n) => `목소리 없음: 프레임의 ${n[0]}%만 유성음이라 프로필을 내지 않습니다`,
      outside: (n) => `범위 밖: 모델의 답 ${n[0]}이(가) 학습한 범위(${n[1]}–${n[2]}) 밖에 있습니다`,
    },
  },
};

const $ = (id) => document.getElementById(id);
const state = { lang: "en", info: null, upload: null, answer: null, answerSeconds: null, recorder: null };
const t = (key) => TEXT[state.lang][key];

function setStatus(message, isError = false) {
  $("status").textContent = message;
  $("status").classList.toggle("error", isError);
}

function translateWarning(sentence) {
  const say = (TEXT[state.lang].warnings || {})[sentence.split(":")[0]];
  return say ? say(sentence.match(/-?\d+(\.\d+)?/g) || []) : sentence;  // a warning without a translation: as is
}

function translateClass(name) {
  const classes = TEXT[state.lang].classes || {};
  if (classes[name]) return classes[name];
  return state.lang === "ko" && /^\d+s$/.test(name) ? name.slice(0, -1) + "대" : name;  // 20s -> 20대
}

// ---------------------------------------------------------------- the page's words
function applyLanguage() {
  document.documentElement.lang = state.lang;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  if (state.recorder) $("record").textContent = t("stop");
  if (state.info) {
    const limits = state.info.limits;
    $("limits").textContent = t("limits")(limits.max_bytes / 2 ** 20, limits.max_seconds);
    $("model").textContent = t("model")(state.info);
  }
  if (state.answer) showProfile(state.answer, state.answerSeconds);
}

async function loadInfo() {
  const response = await fetch("api/info");
  state.info = await response.json();
  applyLanguage();
}

// ---------------------------------------------------------------- recording: Web Audio samples -> WAV
async function startRecording() {
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia(
      { audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
  } catch (err) {
    setStatus(t("no_mic") + err.message, true);
    return;
  }
  const context = new AudioContext();
  const source = context.createMediaStreamSource(stream);
  const processor = context.createScriptProcessor(4096, 1, 1);  // 4096 samples per callback, mono
  const mute = context.createGain();  // the processor must reach the speakers to run; at gain 0 it is silent
  mute.gain.value = 0;
  const chunks = [];
  processor.onaudioprocess = (event) => chunks.push(new Float32Array(event.inputBuffer.getChannelData(0)));
  source.connect(processor);
  processor.connect(mute);
  mute.connect(context.destination);
  const started = performance.now();
  const limit = state.info ? state.info.limits.max_seconds : 60;
  const tick = setInterval(() => {
    const seconds = (performance.now() - started) / 1000;
    $("timer").textContent = `${seconds.toFixed(1)} s`;
    if (seconds >= limit - 0.5) stopRecording();  // stop under the server's limit
  }, 100);
  state.recorder = { stream, context, source, processor, chunks, tick };
  $("record").classList.add("recording");
  $("record").textContent = t("stop");
}

function stopRecording() {
  const r = state.recorder;
  if (!r) return;
  state.recorder = null;
  clearInterval(r.tick);
  r.source.disconnect();
  r.processor.disconnect();
  r.stream.getTracks().forEach((track) => track.stop());
  const sampleRate = r.context.sampleRate;
  r.context.close();
  $("record").classList.remove("recording");
  $("record").textContent = t("record");
  submit(encodeWav(r.chunks, sampleRate), "recording.wav");
}

function encodeWav(chunks, sampleRate) {
  // A RIFF/WAVE file: 44-byte header, then mono 16-bit little-endian PCM samples.
  const n = chunks.reduce((total, c) => total + c.length, 0);  // samples
  const view = new DataView(new ArrayBuffer(44 + 2 * n));
  const text = (offset, s) => [...s].forEach((c, i) => view.setUint8(offset + i, c.charCodeAt(0)));
  text(0, "RIFF"); view.setUint32(4, 36 + 2 * n, true); text(8, "WAVE");
  text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true);  // PCM
  view.setUint16(22, 1, true); view.setUint32(24, sampleRate, true);            // 1 channel, sample rate in Hz
  view.setUint32(28, 2 * sampleRate, true); view.setUint16(32, 2, true);        // bytes per second, per frame
  view.setUint16(34, 16, true); text(36, "data"); view.setUint32(40, 2 * n, true);
  let offset = 44;
  for (const chunk of chunks) {
    for (const x of chunk) {
      const s = Math.max(-1, Math.min(1, x));
      view.setInt16(offset, s < 0 ? s * 0x8000 : s * 0x7fff, true);
      offset += 2;
    }
  }
  return new Blob([view], { type: "audio/wav" });
}

// ---------------------------------------------------------------- the API
async function post(route, extra = "") {
  const url = `${route}?name=${encodeURIComponent(state.upload.name)}${extra}`;
  const started = performance.now();
  const response = await fetch(url, { method: "POST", body: state.upload.blob });
  let body;
  try {
    body = await response.json();
  } catch (err) {
    body = { error: `HTTP ${response.status}` };
  }
  return { ok: response.ok, body, seconds: (performance.now() - started) / 1000 };
}

async function submit(blob, name) {
  const limits = state.info ? state.info.limits : null;
  if (limits && blob.size > limits.max_bytes) {
    setStatus(t("too_big")(limits.max_bytes / 2 ** 20), true);
    return;
  }
  state.upload = { blob, name };
  state.answer = null;
  $("player").src = URL.createObjectURL(blob);
  $("player").hidden = false;
  $("answer").hidden = true;
  $("pipeline").hidden = true;
  $("figures").replaceChildren();
  setStatus(t("profiling"));
  const answer = await post("api/profile");
  if (!answer.ok) {
    setStatus(answer.body.error, true);
    return;
  }
  state.answer = answer.body;
  state.answerSeconds = answer.seconds;
  showProfile(answer.body, answer.seconds);
  await drawFigures();
}

async function drawFigures() {
  $("pipeline").hidden = false;
  $("figures").replaceChildren();
  $("figures-note").textContent = "";
  if (state.info && !state.info.figures) {
    $("figures-note").textContent = state.info.figures_note;
    setStatus(t("done"));
    return;
  }
  setStatus(t("drawing"));
  const mine = state.drawing = (state.drawing || 0) + 1;  // a language switch while drawing: the last one wins
  const result = await post("api/figures", `&lang=${state.lang}`);
  if (mine !== state.drawing) return;
  if (!result.ok) {
    $("figures-note").textContent = result.body.error;
    setStatus(t("done"));
    return;
  }
  $("figures-note").textContent = result.body.note || "";
  for (const figure of result.body.figures) {
    const box = document.createElement("figure");
    const img = document.createElement("img");
    img.src = figure.png;
    img.alt = figure.name;
    const caption = document.createElement("figcaption");
    caption.textContent = t("captions")[figure.name] || figure.name;
    box.append(caption, img);
    $("figures").append(box);
  }
  $("timing").textContent = t("timing")(state.answerSeconds.toFixed(2), result.seconds.toFixed(2));
  setStatus(t("done"));
}

// ---------------------------------------------------------------- the answer
function showProfile(answer, seconds) {
  const table = $("profile");
  table.replaceChildren();
  for (const task of state.info.tasks) {
    const row = table.insertRow();
    const head = document.createElement("th");
    head.textContent = t("tasks")[task] || task;
    row.append(head);
    const cell = row.insertCell();
    const main = document.createElement("div");
    main.className = "answer";
    cell.append(main);
    const probabilities = answer.probabilities[task];
    if (answer[task] === undefined || answer[task] === null) {  // a recording with no voice: no answer
      main.textContent = t("not_profiled");
      continue;
    }
    if (!probabilities) {  // a numeric task: one value
      main.textContent = `${answer[task].toFixed(1)} ${t("years")}`;
      continue;
    }
    main.textContent = `${translateClass(answer[task])} (${Math.round(100 * answer[task + "_p"])}%)` +
      (answer[task + "_unsure"] ? ` — ${t("unsure")(translateClass(answer[task + "_next"]),
                                                   Math.round(100 * answer[task + "_next_p"]))}` : "");
    const bars = document.createElement("div");
    bars.className = "bars";
    for (const [name, p] of Object.entries(probabilities)) {
      const label = document.createElement("span");
      label.textContent = translateClass(name);
      const track = document.createElement("span");
      const bar = document.createElement("div");
      bar.className = name === answer[task] ? "bar top" : "bar";
      bar.style.width = `${(100 * p).toFixed(1)}%`;
      track.append(bar);
      const value = document.createElement("span");
      value.textContent = `${(100 * p).toFixed(0)}%`;
      bars.append(label, track, value);
    }
    cell.append(bars);
  }
  const row = table.insertRow();
  const head = document.createElement("th");
  head.textContent = t("duration");
  row.append(head);
  row.insertCell().textContent = `${answer.duration_s.toFixed(1)} s`;
  const list = $("warnings");
  list.replaceChildren();
  for (const sentence of answer.warnings.length ? answer.warnings : [t("no_warnings")]) {
    const item = document.createElement("li");
    item.textContent = translateWarning(sentence);
    list.append(item);
  }
  $("timing").textContent = t("timing")(seconds.toFixed(2), null);
  $("answer").hidden = false;
}

// ---------------------------------------------------------------- wiring
function setUp() {
  $("record").addEventListener("click", () => (state.recorder ? stopRecording() : startRecording()));
  $("file").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (file) submit(file, file.name);
    event.target.value = "";  // the same file may be chosen again
  });
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    const file = event.dataTransfer.files[0];
    if (file) submit(file, file.name);
  });
  $("lang").addEventListener("change", () => {
    state.lang = $("lang").value;
    applyLanguage();
    if (state.answer) drawFigures();  // the figures' own labels change language too
  });
  loadInfo().catch((err) => setStatus(err.message, true));
}

setUp();
