"""Texts for the evaluation-path benchmark: English prose, Japanese prose and Python code.

Each is a few hundred tokens, under the embedded model's 512-token sliding window, so the
reference (reference_f32.py) and llama.cpp attend over the same positions on every layer.
Written for this benchmark; nothing here is quoted from elsewhere.
"""

from __future__ import annotations

ENGLISH = (
    "The harbour town woke slowly on winter mornings. Before dawn the fishing boats left "
    "in a line, their lamps swinging, and by the time the bakery opened its shutters the "
    "only sound on the quay was the slap of water against the stones. Mara had lived "
    "there for eleven years, long enough to know which neighbours would stop to talk and "
    "which would only nod, long enough to stop counting the days until the ferry came. "
    "She kept the small museum at the end of the pier: three rooms of nets, photographs "
    "and a brass diving helmet that children were not allowed to touch and always did.\n\n"
    "Visitors were rare in January. When the door opened one grey Tuesday and a man in a "
    "wet coat asked whether the museum kept records of ships lost before the war, she "
    "assumed he was a journalist. He was not. He was looking for his grandfather, who had "
    "sailed from this harbour in 1938 on a cargo ship called the Northern Star and had "
    "never written home again. The family story was that the ship went down in a storm "
    "off the coast of Norway, but no record of the wreck had ever been found.\n\n"
    "Mara took down the ledgers from the top shelf. They were heavy, bound in cloth that "
    "had faded from blue to grey, and the ink inside had turned brown. For two hours they "
    "read names and tonnages and dates of departure, and the rain ran down the windows. "
    "The Northern Star appeared three times: in March, in June, and in October 1938, when "
    "she left with a cargo of timber and a crew of fourteen. There was no entry for her "
    "return. But in the margin, in a different hand, someone had written a single word "
    "and a date in the following spring: Bergen, April 1939.\n\n"
    "The man read it twice. Then he asked, very quietly, whether there was any way to "
    "find out who had written it. Mara said that she did not know, but that the harbour "
    "master's office kept letters from those years in the basement, and that the harbour "
    "master owed her a favour. They agreed to meet there the next morning at nine."
)

JAPANESE = (
    "駅から少し歩いたところに、古い本屋がある。店主は七十歳を過ぎた男性で、毎朝八時に"
    "シャッターを上げ、店の前を掃除してから、奥の机で新聞を読む。客はあまり多くない。"
    "それでも、近所の学生や、遠くから電車に乗ってくる常連が、毎日のように顔を出す。\n\n"
    "棚には、文学や歴史の本のほかに、地図や料理の本、子ども向けの図鑑まで並んでいる。"
    "どの本にも、店主が鉛筆で書いた小さな値札がはさまっている。ある日、大学生の女の子が"
    "一冊の詩集を手に取り、値札の裏に短い文章が書かれているのに気づいた。「この本を"
    "読んだ人へ。三十二ページの詩が好きなら、左の棚の一番下も見てください。」\n\n"
    "彼女は言われたとおりに棚の一番下を探し、同じ詩人の古い随筆集を見つけた。その値札"
    "の裏にも、また別の言葉が書かれていた。こうして彼女は、一冊から次の一冊へと、店の"
    "中を少しずつ旅することになった。店主は何も言わず、ただ時々お茶をいれてくれた。\n\n"
    "春になって、彼女は卒業して町を離れることになった。最後の日に店を訪ねると、店主は"
    "机の引き出しから一枚の紙を取り出した。そこには、彼女がこの一年で買った本の題名が、"
    "すべて丁寧に書き並べてあった。そして一番下に、まだ彼女が読んでいない一冊の名前が"
    "あった。「これは、次の町の本屋で探してください」と店主は笑った。\n\n"
    "それから何年もたって、彼女は別の町で小さな出版社に勤めるようになった。忙しい毎日の"
    "なかで、あの紙のことを忘れかけていたある晩、帰り道の古本屋の棚に、その題名を見つけた。"
    "値札の裏には、見覚えのある鉛筆の字で、ただ一言「おかえりなさい」と書かれていた。"
)

CODE = '''\
import heapq
from dataclasses import dataclass, field


@dataclass(order=True)
class Task:
    priority: int
    name: str = field(compare=False)
    depends_on: tuple[str, ...] = field(default=(), compare=False)


def schedule(tasks: list[Task]) -> list[str]:
    """Return task names in an order that respects dependencies and priorities.

    A task becomes ready when every task it depends on has been scheduled; among the
    ready tasks the one with the lowest priority number goes first.
    """
    by_name = {t.name: t for t in tasks}
    waiting = {t.name: set(t.depends_on) for t in tasks}
    for name, deps in waiting.items():
        missing = deps - by_name.keys()
        if missing:
            raise ValueError(f"{name} depends on unknown tasks: {sorted(missing)}")
    dependents: dict[str, list[str]] = {name: [] for name in by_name}
    for name, deps in waiting.items():
        for dep in deps:
            dependents[dep].append(name)
    ready = [by_name[n] for n, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        task = heapq.heappop(ready)
        order.append(task.name)
        for child in dependents[task.name]:
            waiting[child].discard(task.name)
            if not waiting[child]:
                heapq.heappush(ready, by_name[child])
    if len(order) != len(tasks):
        stuck = sorted(n for n, deps in waiting.items() if deps)
        raise ValueError(f"cycle among: {stuck}")
    return order

'''

TEXTS = {"english": ENGLISH, "japanese": JAPANESE, "code": CODE}
