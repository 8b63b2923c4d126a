"""Charts beside the posts' text: the evening recap, the weekly/monthly summary, the 小组PK race and /rank.

Each chart is a pure function from a small data record (`bot.charts.model`) to PNG bytes, drawn headless
with matplotlib's Agg canvas and the CJK font subset shipped in `bot/charts/fonts/`. Same data, same
bytes: fixed font, size and dpi, and no timestamp or software tag in the file.
"""
