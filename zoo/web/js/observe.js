// actionzoo page helper, added to every document of a browser context as an init script.
// It reads the page in one call (window.__zoo.observe) and carries out element actions
// by the element ids of the last observation (window.__zoo.nodes).
(() => {
  if (window.__zoo) return;

  // Task chrome that is not part of the task: the reward HUD, the start cover, click canvases
  // and the instruction box (the instruction is reported separately).
  const SKIP_IDS = new Set(['reward-display', 'sync-task-cover', 'click-canvas', 'attention-canvas', 'query']);
  const SKIP_TAGS = new Set(['script', 'style', 'noscript', 'template', 'meta', 'link', 'head', 'title',
    'br', 'option', 'optgroup', 'defs', 'clippath', 'lineargradient', 'radialgradient']);
  const TEXT_TAGS = new Set(['p', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'label', 'td', 'th', 'b', 'strong', 'em',
    'i', 'u', 'small', 'pre', 'code', 'blockquote', 'caption', 'legend', 'dt', 'dd', 'figcaption', 'q', 'cite',
    'mark', 'abbr', 'time', 'font', 'tt', 'text', 'tspan']);
  const LINK_TAGS = new Set(['a', 'img', 'area']);
  const BUTTON_TYPES = new Set(['button', 'submit', 'reset', 'image']);
  const NON_TEXT_INPUTS = new Set(['button', 'submit', 'reset', 'image', 'checkbox', 'radio', 'file', 'range', 'color', 'hidden']);
  const ACTION_ROLES = new Set(['button', 'menuitem', 'tab', 'option', 'treeitem', 'checkbox', 'radio', 'switch']);
  const ATTR_KEYS = ['id', 'class', 'name', 'type', 'placeholder', 'href', 'title', 'alt', 'role', 'aria-label', 'for', 'fill'];
  const CLICK_EVENTS = ['click', 'mousedown', 'mouseup', 'dblclick'];

  const zoo = {
    nodes: [],
    leaving: false,  // set when this document starts unloading (a navigation is under way)
    doc: String(performance.timeOrigin) + ':' + String(performance.now()),
  };
  Object.defineProperty(window, '__zoo', { value: zoo, enumerable: false });
  window.addEventListener('beforeunload', () => { zoo.leaving = true; });
  // Link activations and form submissions start their navigation a little later than the
  // click returns; flag them now so the harness waits for the next document.
  const otherDocument = (href) => {
    try {
      const u = new URL(href, location.href);
      if (u.protocol === 'javascript:') return false;
      return u.origin !== location.origin || u.pathname !== location.pathname || u.search !== location.search;
    } catch (e) { return false; }
  };
  window.addEventListener('click', (e) => {
    const a = !e.defaultPrevented && e.target && e.target.closest ? e.target.closest('a[href]') : null;
    if (a && (!a.target || a.target === '_self') && otherDocument(a.href)) zoo.leaving = true;
  });
  window.addEventListener('submit', (e) => { if (!e.defaultPrevented) zoo.leaving = true; });

  const global = (name) => (typeof window[name] === 'undefined' ? null : window[name]);

  function ownText(el) {
    let t = '';
    for (const c of el.childNodes) if (c.nodeType === 3) t += c.data + ' ';
    return t.replace(/\s+/g, ' ').trim().slice(0, 200);
  }

  // Click handlers registered by the libraries the task pages use, or inline.
  function hasClickHandler(el) {
    if (el.onclick || el.onmousedown || el.onmouseup || el.hasAttribute('onclick')) return true;
    if (el.__onclick || el.__onmousedown || el.__onmouseup) return true;  // d3 v3
    if (Array.isArray(el.__on) && el.__on.some((h) => CLICK_EVENTS.includes(h.type))) return true;  // d3 v4+
    const jq = window.jQuery;
    if (jq && jq._data) {
      const ev = jq._data(el, 'events');
      if (ev && CLICK_EVENTS.some((k) => ev[k])) return true;
    }
    return false;
  }

  function category(el, tag, text) {
    const role = el.getAttribute('role');
    if (tag === 'button' || (tag === 'input' && BUTTON_TYPES.has(el.type)) || ACTION_ROLES.has(role)) return 'action';
    if (tag === 'input' || tag === 'textarea' || tag === 'select' ||
        (el.hasAttribute('contenteditable') && el.isContentEditable)) return 'input';
    if (LINK_TAGS.has(tag) || role === 'link') return 'link';
    if (TEXT_TAGS.has(tag) || text) return 'text';
    return 'style';
  }

  // Visible: has area, is not hidden by style and shows inside ``clip`` (the viewport cut down
  // by every ancestor that clips its overflow).
  function isVisible(el, rect, style, clip) {
    return shown(rect, style) && inside(rect, clip);
  }
  const viewport = () => [0, 0, window.innerWidth, window.innerHeight];
  const clips = (style) => style.overflowX !== 'visible' || style.overflowY !== 'visible';
  const scrolls = (style) => /auto|scroll/.test(style.overflowX + style.overflowY);
  // Where an element may lie and still be scrolled into view: anywhere (the window scrolls), cut down
  // by every ancestor that clips its overflow without scrolling; a box that scrolls lets its content go
  // anywhere again, so long as the box itself can be reached.  null: nowhere (inside a box out of reach).
  const ANYWHERE = [-Infinity, -Infinity, Infinity, Infinity];
  const shown = (rect, style) => rect.width > 0 && rect.height > 0 && style.visibility !== 'hidden' &&
    style.display !== 'none' && parseFloat(style.opacity) > 0;
  const inside = (rect, clip) => clip !== null && rect.right > clip[0] && rect.bottom > clip[1] &&
    rect.left < clip[2] && rect.top < clip[3];
  function reachOfChildren(reach, rect, style, reachable) {
    if (!clips(style)) return reach;
    if (scrolls(style)) return reachable ? ANYWHERE : null;
    return reach === null ? null : narrow(reach, rect);
  }
  function narrow(clip, rect) {
    return [Math.max(clip[0], rect.left), Math.max(clip[1], rect.top), Math.min(clip[2], rect.right), Math.min(clip[3], rect.bottom)];
  }
  function clipOf(el) {
    let clip = viewport();
    for (let a = el.parentElement; a && a !== document.body && a !== document.documentElement; a = a.parentElement) {
      if (clips(window.getComputedStyle(a))) clip = narrow(clip, a.getBoundingClientRect());
    }
    return clip;
  }

  function attrsOf(el, tag, style) {
    const a = {};
    for (const k of ATTR_KEYS) {
      const v = el.getAttribute(k);
      if (v !== null && v !== '') a[k] = v.slice(0, 100);
    }
    if (tag === 'input' && (el.type === 'checkbox' || el.type === 'radio')) a.checked = String(el.checked);
    else if (tag === 'input' || tag === 'textarea') a.value = String(el.value).slice(0, 200);
    else if (tag === 'select') a.value = el.selectedIndex >= 0 ? el.options[el.selectedIndex].text.trim() : '';
    if (el.disabled) a.disabled = 'true';
    if (document.activeElement === el) a.focused = 'true';
    // A form control's name is its label's text (a checkbox has no text of its own); what a screen reader says.
    if (el.labels && el.labels.length) {
      const label = Array.from(el.labels).map((l) => l.textContent.replace(/\s+/g, ' ').trim()).filter(Boolean).join(' ');
      if (label) a.label = label.slice(0, 100);
    }
    const bg = style.backgroundColor;  // colours a person sees (colour-picking tasks)
    if (bg && bg !== 'rgba(0, 0, 0, 0)' && bg !== 'transparent') a.bg = bg;
    return a;
  }

  function instruction() {
    const core = global('core');
    if (core && typeof core.getUtterance === 'function') {
      try {
        const u = core.getUtterance();
        return typeof u === 'string' ? u : (u && u.utterance) || '';
      } catch (e) { /* no #query on this page */ }
    }
    const q = document.getElementById('query');
    return q ? q.textContent.replace(/\s+/g, ' ').trim() : '';
  }

  zoo.status = () => {
    const core = global('core');
    return {
      has_core: !!(core && typeof core.startEpisodeReal === 'function'),
      done: !!global('WOB_DONE_GLOBAL'),
      raw_reward: Number(global('WOB_RAW_REWARD_GLOBAL') || 0),
      reward: Number(global('WOB_REWARD_GLOBAL') || 0),
      reason: global('WOB_REWARD_REASON') === null ? null : String(global('WOB_REWARD_REASON')),
      ready: global('WOB_TASK_READY') !== false,
      leaving: zoo.leaving,
      doc: zoo.doc,
      ready_state: document.readyState,
      page: location.pathname.replace(/^\//, ''),
    };
  };

  // The whole observation in one call: status, instruction, task area and the element tree
  // as rows [tag, text, attrs, x, y, w, h, parent, depth, visible, category, actionable, options].
  zoo.observe = (maxElements) => {
    const out = zoo.status();
    out.time_ms = Date.now();  // the page's clock when it was read (Observation.time_ms)
    out.instruction = instruction();
    const wrap = document.getElementById('wrap');
    const ar = wrap ? wrap.getBoundingClientRect() : { left: 0, top: 0, width: window.innerWidth, height: window.innerHeight };
    out.area = [ar.left, ar.top, ar.width, ar.height];
    const nodes = [];
    const rows = [];
    out.truncated = false;
    const walk = (el, parent, depth, clip, reach) => {
      for (const child of el.children) {
        if (rows.length >= maxElements) { out.truncated = true; return; }
        const tag = child.tagName.toLowerCase();
        // jQuery UI's screen-reader-only live regions: unseen, and they grow by a message per search
        if (SKIP_TAGS.has(tag) || SKIP_IDS.has(child.id) || child.classList.contains('ui-helper-hidden-accessible')) continue;
        const rect = child.getBoundingClientRect();
        const style = window.getComputedStyle(child);
        const text = ownText(child);
        const cat = category(child, tag, text);
        const interactive = cat === 'input' || cat === 'action' || (tag === 'a' && child.hasAttribute('href')) ||
          (tag === 'label' && (child.control || child.querySelector('input')));
        const actionable = !child.disabled && !!(interactive || style.cursor === 'pointer' || hasClickHandler(child) ||
          (child.hasAttribute('tabindex') && child.tabIndex >= 0));
        const options = tag === 'select' ? Array.from(child.options).map((o) => o.text.trim()) : [];
        const id = rows.length;
        nodes.push(child);
        // visible: on screen now, or a user could scroll it there (a tweet further down a feed)
        const reachable = shown(rect, style) && inside(rect, reach);
        rows.push([tag, text, attrsOf(child, tag, style), rect.left, rect.top, rect.width, rect.height, parent, depth,
          isVisible(child, rect, style, clip) || reachable, cat, actionable, options]);
        walk(child, id, depth + 1, clips(style) ? narrow(clip, rect) : clip, reachOfChildren(reach, rect, style, reachable));
      }
    };
    if (document.body) walk(document.body, -1, 0, viewport(), ANYWHERE);
    zoo.nodes = nodes;
    out.elements = rows;
    return out;
  };

  function resolve(i) {
    const el = zoo.nodes[i];
    if (!el) return [null, `element ${i} does not exist (the observation has ${zoo.nodes.length} elements)`];
    if (!el.isConnected) return [null, `element ${i} is no longer on the page`];
    return [el, null];
  }

  function visibleNow(el) {
    return isVisible(el, el.getBoundingClientRect(), window.getComputedStyle(el), clipOf(el));
  }

  // The observation's reach rule (reachOfChildren), read from the element outwards: every box that hides
  // its overflow between the element and the nearest box that scrolls must hold it, and that box must be
  // reachable itself; with no scrolling box above, the window scrolls.
  function reachableNow(el) {
    const rect = el.getBoundingClientRect();
    if (!shown(rect, window.getComputedStyle(el))) return false;
    for (let a = el.parentElement; a && a !== document.body && a !== document.documentElement; a = a.parentElement) {
      const st = window.getComputedStyle(a);
      if (!clips(st)) continue;
      if (scrolls(st)) return reachableNow(a);
      if (!inside(rect, narrow(ANYWHERE, a.getBoundingClientRect()))) return false;
    }
    return true;
  }

  // Scroll an element off-screen into view when a user could scroll it there (reachableNow): never out
  // of a box that merely hides its overflow.
  function reveal(el) {
    if (visibleNow(el) || !reachableNow(el)) return;
    el.scrollIntoView({ block: 'center', inline: 'center' });
  }

  // A viewport point that lands on the element (or a descendant): the centre of its first
  // box's visible part, else an inset point; a fully covered element is clicked at its centre
  // anyway, exactly as a user would hit whatever covers it.
  zoo.clickPoint = (i) => {
    const [el, err] = resolve(i);
    if (err) return { error: err };
    reveal(el);
    if (!visibleNow(el)) return { error: `element ${i} (${el.tagName.toLowerCase()}) is not visible` };
    const clip = clipOf(el);
    const boxes = Array.from(el.getClientRects()).map((r) => narrow(clip, r)).filter((b) => b[2] > b[0] && b[3] > b[1]);
    const r = el.getBoundingClientRect();
    const [x0, y0, x1, y1] = boxes.length ? boxes[0] : narrow(clip, r);
    const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    const points = [[cx, cy], [x0 + (x1 - x0) * 0.25, cy], [x0 + (x1 - x0) * 0.75, cy],
      [cx, y0 + (y1 - y0) * 0.25], [cx, y0 + (y1 - y0) * 0.75]];
    for (const [x, y] of points) {
      const hit = document.elementFromPoint(x, y);
      if (hit && (hit === el || el.contains(hit))) return { x, y, covered: false };
    }
    return { x: cx, y: cy, covered: true };
  };

  // Focus a text field and select its content, so the typed text replaces it.
  zoo.focusForTyping = (i) => {
    const [el, err] = resolve(i);
    if (err) return { error: err };
    const tag = el.tagName.toLowerCase();
    const editable = tag === 'textarea' || (tag === 'input' && !NON_TEXT_INPUTS.has(el.type)) || el.isContentEditable;
    if (!editable) return { error: `element ${i} (${tag}) does not take text; type into an input, textarea or editable element` };
    reveal(el);
    if (!visibleNow(el)) return { error: `element ${i} (${tag}) is not visible` };
    if (el.disabled || el.readOnly) return { error: `element ${i} (${tag}) is disabled or read-only` };
    el.focus();
    if (el.isContentEditable) {
      const range = document.createRange();
      range.selectNodeContents(el);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
    } else {
      try { el.select(); } catch (e) { /* some input types have no selection */ }
      if (typeof el.selectionStart !== 'number') el.value = '';
    }
    return { focused: document.activeElement === el };
  };

  // ---- page-side input (one evaluate per step; see zoo.step)
  // A click at a viewport point as the browser's own input pipeline would deliver it to the
  // element under the point: hover, press (whose default action moves focus), release, click.
  // Activation behaviour (checkboxes, labels, links, submit buttons) follows from the click event.
  const focusable = (el) => !el.disabled && (el.isContentEditable || el.tabIndex >= 0 || el.hasAttribute('tabindex'));
  function focusFrom(target) {
    let f = target;
    while (f && f.nodeType === 1 && f !== document.body && !focusable(f)) f = f.parentElement;
    if (f && f.nodeType === 1 && f !== document.body && focusable(f)) f.focus({ preventScroll: true });
    else if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
  }
  function commonAncestor(a, b) {
    for (let n = a; n; n = n.parentNode) if (n.contains && n.contains(b)) return n;
    return null;
  }
  // The element the page-side pointer was last over.  A click elsewhere first leaves it (out and leave events,
  // as a real pointer moving away would): without them a widget that keeps a hover state keeps it for ever
  // (jQuery UI's slider then took a click on its track for a click on its handle and did not move).
  let pointerOver = null;
  function moveOver(over, init, Pointer) {
    const prev = pointerOver && pointerOver !== over && pointerOver.isConnected ? pointerOver : null;
    pointerOver = over;
    if (!prev) return;
    const left = { ...init(0), relatedTarget: over }, still = { ...left, bubbles: false };
    prev.dispatchEvent(new Pointer('pointerout', left));
    prev.dispatchEvent(new MouseEvent('mouseout', left));
    for (let n = prev; n && n.nodeType === 1 && !n.contains(over); n = n.parentElement) {
      n.dispatchEvent(new Pointer('pointerleave', still));
      n.dispatchEvent(new MouseEvent('mouseleave', still));
    }
  }
  // The browser's own pointer (the harness's coordinate actions: click_at, move, drag, wheel) moves too.  Its
  // mouseover says where it now is; the element the page-side pointer was over before is left as by a click there,
  // unless the browser leaves it itself (it is the over event's relatedTarget), so neither pointer leaves a hover
  // state behind.
  window.addEventListener('mouseover', (e) => {
    if (!e.isTrusted) return;
    if (pointerOver === e.relatedTarget) { pointerOver = e.target; return; }
    const init = () => ({ bubbles: true, cancelable: true, composed: true, view: window, clientX: e.clientX,
      clientY: e.clientY, screenX: e.screenX, screenY: e.screenY, pointerId: 1, pointerType: 'mouse', isPrimary: true });
    moveOver(e.target, init, window.PointerEvent || MouseEvent);
  }, true);
  zoo.clickAt = (x, y) => {
    const init = (buttons) => ({ bubbles: true, cancelable: true, composed: true, view: window, clientX: x, clientY: y,
      screenX: x, screenY: y, button: 0, buttons, detail: 1, pointerId: 1, pointerType: 'mouse', isPrimary: true });
    const Pointer = window.PointerEvent || MouseEvent;
    const at = () => document.elementFromPoint(x, y) || document.body;
    const over = at();
    moveOver(over, init, Pointer);
    for (const t of ['pointerover', 'pointermove']) over.dispatchEvent(new Pointer(t, init(0)));
    for (const t of ['mouseover', 'mousemove']) over.dispatchEvent(new MouseEvent(t, init(0)));
    const down = at();
    if (down.dispatchEvent(new Pointer('pointerdown', init(1))) && down.dispatchEvent(new MouseEvent('mousedown', init(1)))) {
      focusFrom(down);
    }
    const up = at();
    up.dispatchEvent(new Pointer('pointerup', init(0)));
    up.dispatchEvent(new MouseEvent('mouseup', init(0)));
    const target = down.isConnected ? commonAncestor(down, up) || up : up;
    target.dispatchEvent(new MouseEvent('click', init(0)));
    return {};
  };

  // Date and time fields hold a fixed wire format ("2016-03-16", "17:09") while people write them as
  // "03/16/2016" and "5:09 PM"; text in either form is converted for such a field, anything else refused.
  const pad2 = (v) => String(v).padStart(2, '0');
  const WIRE = {
    date: (t) => {
      const us = t.match(/^(\d{1,2})\/(\d{1,2})\/(\d{4})$/);
      if (us) return `${us[3]}-${pad2(us[1])}-${pad2(us[2])}`;
      return /^\d{4}-\d{2}-\d{2}$/.test(t) ? t : null;
    },
    time: (t) => {
      const m = t.match(/^(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?$/);
      if (!m) return null;
      let hour = Number(m[1]);
      if (m[4]) hour = (hour % 12) + (m[4].toUpperCase() === 'PM' ? 12 : 0);
      return hour < 24 && Number(m[2]) < 60 ? `${pad2(hour)}:${m[2]}${m[3] ? ':' + m[3] : ''}` : null;
    },
  };
  // The field's own form of ``text``, or an error naming the forms it takes (checked before the field is touched).
  zoo.typeWire = (i, el, text) => {
    const wire = WIRE[el.type](text.trim());
    if (wire === null) {
      const like = el.type === 'date' ? '03/16/2016 or 2016-03-16' : '5:09 PM or 17:09';
      return { error: `element ${i} (${el.type} input) takes a ${el.type} like ${like}, got ${JSON.stringify(text)}` };
    }
    const r = zoo.focusForTyping(i);
    if (r.error) return r;
    el.value = wire;
    for (const t of ['input', 'change']) el.dispatchEvent(new Event(t, { bubbles: true }));
    return { focused: document.activeElement === el };
  };

  // Replace a text field's content (focused and selected by focusForTyping) with ``text`` as one
  // input event, like a paste.
  zoo.typeText = (i, text) => {
    const node = zoo.nodes[i];
    if (node && node.tagName === 'INPUT' && WIRE[node.type] && text) return zoo.typeWire(i, node, text);
    const r = zoo.focusForTyping(i);
    if (r.error || !r.focused || !text) return r;
    if (!document.execCommand('insertText', false, text)) {
      const el = zoo.nodes[i];
      if (el.isContentEditable) el.textContent = text; else el.value = text;
      el.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertText', data: text }));
    }
    return r;
  };

  const ACTS = {
    click: (i) => { const p = zoo.clickPoint(i); return p.error ? p : zoo.clickAt(p.x, p.y); },
    type: (i, text) => zoo.typeText(i, text),
    select: (i, option) => zoo.selectOption(i, option),
    noop: () => ({}),
  };
  // Until the page's clock reads ``atMs`` (Action.at_ms), at most ``capMs`` from now; at once without one.
  zoo.until = (atMs, capMs) => new Promise((resolve) => {
    const ms = atMs == null ? 0 : Math.min(atMs - Date.now(), capMs);
    if (ms > 0) setTimeout(resolve, ms); else resolve();
  });
  // Whether the page is about to change by itself: a jQuery effect queued (its timer list), a CSS animation
  // or transition of finite length running (an endless one, a spinner, never ends, so it does not count), or
  // the focused field's jQuery UI autocomplete holding a search it has not run yet (it runs 0.3 s after the
  // typing stops and sets its term to the field's value).
  zoo.unsettled = () => {
    const jq = window.jQuery;
    if (jq && jq.timers && jq.timers.length) return true;
    const field = document.activeElement;
    const complete = jq && field && field !== document.body ? jq.data(field, 'ui-autocomplete') : null;
    if (complete && complete.element) {
      const value = String(complete.element.val() || '');
      if (complete.term === undefined ? value !== '' : complete.term !== value) return true;
    }
    if (!document.getAnimations) return false;
    return document.getAnimations().some((a) => a.playState === 'running'
      && Number.isFinite(a.effect && a.effect.getComputedTiming ? a.effect.getComputedTiming().endTime : Infinity));
  };
  // Until the page is still (Action.settle), at most ``capMs``; checked every few milliseconds, after the
  // tasks the last action queued for now (a click's handler may start its effect in a zero-delay timer).
  zoo.still = (capMs) => new Promise((resolve) => {
    const end = Date.now() + Math.max(0, capMs);
    const check = () => {
      const busy = zoo.unsettled();
      if (!busy || Date.now() >= end) resolve(!busy);
      else setTimeout(check, 5);
    };
    setTimeout(check, 0);
  });
  // Act (unless the episode is already over), let the page run what the action queued for now
  // (promise callbacks, zero-delay timers), then observe: action, reward and observation in one
  // round trip.  An action with a time is carried out when the page's own clock reaches it, so
  // its timing does not depend on how long the round trip took.  Returns a JSON string
  // {act: {error?} | null, obs}.
  // jQuery's effects (jQuery 1.x/2.x read the time through jQuery.now) see the time of the action until the
  // observation is taken: an effect the action starts is meant to be observed at its start, not after however
  // many of its 13 ms ticks a slow machine let run first (under heavy load not always: tests/test_web_settle.py).
  // Its later frames keep their own times.  With ``settleMs`` (env.settle_ms) the page is instead observed once it
  // is still (zoo.still, at most that long): the clock runs again first, or no effect could ever end.
  zoo.step = async (kind, i, arg, maxElements, atMs, capMs, settleMs) => {
    await zoo.until(atMs, capMs);
    const jq = window.jQuery;
    const now = jq && typeof jq.now === 'function' ? jq.now : null;
    if (now) { const t = now(); jq.now = () => t; }
    try {
      const act = zoo.status().done ? null : ACTS[kind](i, arg);
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (settleMs > 0) {
        if (now) jq.now = now;
        await zoo.still(settleMs);
      }
      return JSON.stringify({ act, obs: zoo.observe(maxElements) });
    } finally {
      if (now) jq.now = now;
    }
  };

  zoo.selectOption = (i, option) => {
    const [el, err] = resolve(i);
    if (err) return { error: err };
    if (el.tagName.toLowerCase() !== 'select') return { error: `element ${i} (${el.tagName.toLowerCase()}) is not a <select>` };
    reveal(el);
    if (!visibleNow(el)) return { error: `element ${i} (select) is not visible` };
    const opts = Array.from(el.options);
    const want = String(option).trim();
    let idx = opts.findIndex((o) => o.text.trim() === want);
    if (idx < 0) idx = opts.findIndex((o) => o.value === want);
    if (idx < 0) idx = opts.findIndex((o) => o.text.trim().toLowerCase() === want.toLowerCase());
    if (idx < 0) return { error: `option '${want}' is not in element ${i}; options: ${opts.map((o) => o.text.trim()).join(', ')}` };
    el.focus();
    el.selectedIndex = idx;
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
    return { ok: true };
  };
})();
