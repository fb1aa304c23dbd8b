namespace Moderation.Streams.Review;

/// <summary>The console's one style sheet and one script, served from <c>/static/</c> (the CSP allows no inline code).</summary>
public static class ConsoleAssets
{
    public const string Css = """
        :root { font-family: system-ui, sans-serif; color: #1b1f24; background: #f6f7f9; }
        body { margin: 0; }
        header { background: #1b1f24; color: #fff; padding: .5rem 1rem; display: flex; gap: 1.5rem; align-items: center; }
        header a { color: #fff; text-decoration: none; } header form { margin-left: auto; }
        main { padding: 1rem; }
        table { border-collapse: collapse; width: 100%; background: #fff; }
        th, td { border-bottom: 1px solid #dde1e6; padding: .35rem .5rem; text-align: left; vertical-align: top; font-size: .9rem; }
        tr.sel { outline: 2px solid #0b63ce; }
        tr.late td:nth-child(5) { color: #a40e26; font-weight: 600; }
        .tag { display: inline-block; padding: 0 .4rem; border-radius: .3rem; background: #e8ebef; margin: 0 .2rem .2rem 0; font-size: .8rem; }
        .tag.bank { background: #f9d7d7; } .tag.model { background: #fbe7c6; } .tag.text { background: #dbe9fb; } .tag.esc { background: #e3d4fb; }
        .media { position: relative; max-width: 640px; }
        .media img, .media video { max-width: 640px; max-height: 480px; display: block; }
        .blurred img, .blurred video { filter: blur(28px) grayscale(1); }
        .grey img, .grey video { filter: grayscale(1); }
        .panel { background: #fff; border: 1px solid #dde1e6; padding: .75rem; margin-bottom: 1rem; }
        .row { display: flex; gap: 1rem; flex-wrap: wrap; }
        mark { background: #ffd24d; }
        .error { color: #a40e26; } .ok { color: #0a6b2d; }
        button { padding: .35rem .8rem; margin-right: .3rem; }
        kbd { border: 1px solid #aaa; border-radius: 3px; padding: 0 .25rem; font-size: .75rem; }
        .login { max-width: 22rem; margin: 4rem auto; } .login input { display: block; width: 100%; margin: .3rem 0 .8rem; padding: .4rem; }
        """;

    public const string Script = """
        (function () {
          function typing(e) { var t = e.target; return t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT'); }
          function click(id) { var b = document.getElementById(id); if (b && !b.disabled) { b.click(); return true; } return false; }
          var reveal = document.getElementById('reveal');
          if (reveal) reveal.addEventListener('click', function () {
            var m = document.getElementById('media');
            if (m.classList.contains('blurred')) { m.classList.remove('blurred'); m.classList.add('grey'); reveal.textContent = 'Colour'; }
            else if (m.classList.contains('grey')) { m.classList.remove('grey'); reveal.textContent = 'Blur'; }
            else { m.classList.add('blurred'); reveal.textContent = 'Reveal'; }
          });
          document.querySelectorAll('[data-seek]').forEach(function (b) {
            b.addEventListener('click', function () {
              var v = document.querySelector('#media video'); if (v) { v.currentTime = Number(b.getAttribute('data-seek')) / 1000; v.pause(); }
            });
          });
          var rows = Array.prototype.slice.call(document.querySelectorAll('tr[data-href]'));
          var at = rows.length ? 0 : -1; if (at === 0) rows[0].classList.add('sel');
          function move(d) { if (at < 0) return; rows[at].classList.remove('sel'); at = Math.max(0, Math.min(rows.length - 1, at + d)); rows[at].classList.add('sel'); rows[at].scrollIntoView({ block: 'nearest' }); }
          document.addEventListener('keydown', function (e) {
            if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
            var k = e.key;
            if (k === 'j') move(1); else if (k === 'k') move(-1);
            else if (k === 'Enter' && at >= 0) location.href = rows[at].getAttribute('data-href');
            else if (k === 'r') click('reveal'); else if (k === 'c') click('claim');
            else if (k === 't') click('v-takedown'); else if (k === 'a') click('v-allow'); else if (k === 'e') click('v-escalate');
            else if (k === 'n') click('next'); else if (k === 'q') location.href = '/';
            else return;
            e.preventDefault();
          });
        })();
        """;
}
