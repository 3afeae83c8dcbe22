"""Local understanding: what a sentence asks of the home, read without a model.

The phrase grammar (`grammar`), Home Assistant's sentences through hassil for the long tail
(`sentences`), questions answered from readings (`answers`) and the fast path that tries them
(`intents`). Pure: it may import only `home` and `errors`; the state it answers from is handed in.
"""
