#!/usr/bin/env python3
"""Writes the hostile-event corpus next to this script (python3 stdlib only). manifest.csv: file,expected_code."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
rows = []
GOOD_MEDIA = '"media":{"url":"file:///media/a.png"}'

def put(name, data, expected):
    if isinstance(data, str): data = data.encode('utf-8')
    with open(os.path.join(HERE, name), 'wb') as f: f.write(data)
    rows.append((name, expected))

def event(body):
    return '{' + body + '}'

base = '"content_id":"c-1","media_type":"image",' + GOOD_MEDIA
put('ok-minimal.json', event(base), 'ok')
put('ok-every-field.json', event('"content_id":"c-123","uploader_id":"u-9","media_type":"image","media":{"url":"https://cdn.example/abc.jpg"},"caption":"optional text","created_at":"2026-11-25T10:00:00Z"'), 'ok')
put('ok-unknown-fields-and-huge-number.json', event(base + ',"future":{"x":[1,2,{"y":null}]},"n":1e999999,"big":123456789012345678901234567890'), 'ok')
put('ok-inline-data.json', event('"content_id":"c-2","media_type":"image","media":{"data":"AQID"}'), 'ok')
put('ok-escaped-names.json', '{"content\\u005fid":"c-3","media_type":"im\\u0061ge",' + GOOD_MEDIA + '}', 'ok')
put('ok-video.json', event('"content_id":"v-1","media_type":"video",' + GOOD_MEDIA), 'ok')
put('ok-offset-timestamp.json', event(base + ',"created_at":"2026-11-25T11:00:00+01:00"'), 'ok')

# syntax
put('empty.json', '', 'invalid-event')
put('whitespace.json', '  \n\t ', 'invalid-event')
put('not-json.txt', 'content_id=c-1&media_type=image', 'invalid-event')
put('array.json', '[' + event(base) + ']', 'invalid-event')
put('string.json', '"c-1"', 'invalid-event')
put('null.json', 'null', 'invalid-event')
put('truncated.json', event(base)[:-5], 'invalid-event')
put('two-objects.json', event(base) + event(base), 'invalid-event')
put('trailing-garbage.json', event(base) + ' x', 'invalid-event')
put('trailing-comma.json', event(base + ','), 'invalid-event')
put('comment.json', '/* hi */' + event(base), 'invalid-event')
put('single-quotes.json', event(base).replace('"c-1"', "'c-1'"), 'invalid-event')
put('nan.json', event(base + ',"x":NaN'), 'invalid-event')
put('bom.json', b'\xef\xbb\xbf' + event(base).encode(), 'invalid-event')
put('utf16.json', event(base).encode('utf-16'), 'invalid-event')
put('invalid-utf8-in-unknown-field.json', event(base).encode()[:-1] + b',"x":"\xc3\x28"}', 'invalid-event')
put('overlong-utf8-slash.json', event(base).encode()[:-1] + b',"x":"\xc0\xaf"}', 'invalid-event')
put('lone-surrogate-caption.json', event(base + ',"caption":"\\ud800"'), 'invalid-event')
put('nul-byte-raw.json', event(base).encode()[:-1] + b',"x":"a\x00b"}', 'invalid-event')
put('deep-nesting-1000.json', event(base + ',"x":' + '[' * 1000 + ']' * 1000), 'invalid-event')
put('deep-nesting-objects.json', event(base + ',"x":' + '{"a":' * 200 + '1' + '}' * 200), 'invalid-event')

# duplicate keys
put('duplicate-content-id.json', event(base + ',"content_id":"c-2"'), 'invalid-event')
put('duplicate-escaped-key.json', event(base + ',"content\\u005fid":"c-2"'), 'invalid-event')
put('duplicate-nested-url.json', event('"content_id":"c-1","media_type":"image","media":{"url":"file:///media/a.png","url":"https://evil.example/"}'), 'invalid-event')
put('duplicate-in-unknown-field.json', event(base + ',"x":{"a":1,"a":2}'), 'invalid-event')

# field rules
put('missing-content-id.json', event('"media_type":"image",' + GOOD_MEDIA), 'invalid-event')
put('content-id-null.json', event('"content_id":null,"media_type":"image",' + GOOD_MEDIA), 'invalid-event')
put('content-id-number.json', event('"content_id":123,"media_type":"image",' + GOOD_MEDIA), 'invalid-event')
put('content-id-empty.json', event('"content_id":"","media_type":"image",' + GOOD_MEDIA), 'invalid-event')
put('content-id-129.json', event('"content_id":"' + 'a' * 129 + '","media_type":"image",' + GOOD_MEDIA), 'invalid-event')
put('content-id-traversal.json', event('"content_id":"../../etc/passwd","media_type":"image",' + GOOD_MEDIA), 'invalid-event')
put('content-id-newline-log-injection.json', event('"content_id":"c-1\\nINFO forged log line","media_type":"image",' + GOOD_MEDIA), 'invalid-event')
put('content-id-nul.json', event('"content_id":"c\\u0000","media_type":"image",' + GOOD_MEDIA), 'invalid-event')
put('content-id-cyrillic.json', event('"content_id":"\u0441-1","media_type":"image",' + GOOD_MEDIA), 'invalid-event')
put('content-id-fullwidth.json', event('"content_id":"\uff43-1","media_type":"image",' + GOOD_MEDIA), 'invalid-event')
put('uploader-id-space.json', event(base + ',"uploader_id":"u 1"'), 'invalid-event')
put('uploader-id-object.json', event(base + ',"uploader_id":{}'), 'invalid-event')
put('media-type-missing.json', event('"content_id":"c-1",' + GOOD_MEDIA), 'invalid-event')
put('media-type-number.json', event('"content_id":"c-1","media_type":1,' + GOOD_MEDIA), 'invalid-event')
put('media-type-audio.json', event('"content_id":"c-1","media_type":"audio",' + GOOD_MEDIA), 'unsupported-media')
put('media-type-uppercase.json', event('"content_id":"c-1","media_type":"IMAGE",' + GOOD_MEDIA), 'unsupported-media')
put('media-type-empty.json', event('"content_id":"c-1","media_type":"",' + GOOD_MEDIA), 'unsupported-media')
put('media-missing.json', event('"content_id":"c-1","media_type":"image"'), 'invalid-event')
put('media-null.json', event('"content_id":"c-1","media_type":"image","media":null'), 'invalid-event')
put('media-string.json', event('"content_id":"c-1","media_type":"image","media":"file:///media/a.png"'), 'invalid-event')
put('media-array.json', event('"content_id":"c-1","media_type":"image","media":[{"url":"file:///media/a.png"}]'), 'invalid-event')
put('media-empty.json', event('"content_id":"c-1","media_type":"image","media":{}'), 'invalid-event')
put('media-both.json', event('"content_id":"c-1","media_type":"image","media":{"url":"file:///media/a.png","data":"AQID"}'), 'invalid-event')
put('media-url-empty.json', event('"content_id":"c-1","media_type":"image","media":{"url":""}'), 'invalid-event')
put('media-url-number.json', event('"content_id":"c-1","media_type":"image","media":{"url":42}'), 'invalid-event')
put('media-url-too-long.json', event('"content_id":"c-1","media_type":"image","media":{"url":"https://cdn.example/' + 'a' * 8200 + '"}'), 'invalid-event')
put('media-data-not-base64.json', event('"content_id":"c-1","media_type":"image","media":{"data":"%%%"}'), 'invalid-event')
put('media-data-empty.json', event('"content_id":"c-1","media_type":"image","media":{"data":""}'), 'invalid-event')
put('media-data-number.json', event('"content_id":"c-1","media_type":"image","media":{"data":7}'), 'invalid-event')
put('caption-number.json', event(base + ',"caption":5'), 'invalid-event')
put('created-at-words.json', event(base + ',"created_at":"yesterday"'), 'invalid-event')
put('created-at-no-offset.json', event(base + ',"created_at":"2026-11-25T10:00:00"'), 'invalid-event')
put('created-at-us-format.json', event(base + ',"created_at":"11/25/2026 10:00"'), 'invalid-event')
put('created-at-number.json', event(base + ',"created_at":1764064800'), 'invalid-event')
put('created-at-month-13.json', event(base + ',"created_at":"2026-13-01T00:00:00Z"'), 'invalid-event')

with open(os.path.join(HERE, 'manifest.csv'), 'w') as f:
    f.write('file,expected_code\n')
    for name, expected in sorted(rows): f.write(f'{name},{expected}\n')
print(len(rows), 'events')
