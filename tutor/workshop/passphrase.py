"""The default workshop password: a few words, fresh at every start, easy to read off a projector and type.

Each word is drawn from 294 short, common ones with the operating system's random source: four words are
about 32 bits. Failed logins are slowed down per client address (`throttle.py`), so guessing would take
longer than any workshop lasts.
"""

from __future__ import annotations

import re
import secrets

WORDS = tuple(
    """
acorn actor adult agent alarm album alley amber anchor angle ankle apple apron arena arrow atlas attic autumn
badge bagel baker bamboo banjo barn basket beach beard beaver bell bench berry bike biscuit blade blanket
blossom boat bonnet book boot bottle bowl box bread brick bridge broom bubble bucket buffalo bugle bunny butter
button cabin cactus cake camel camera candle canoe canvas canyon carpet carrot castle cedar cello chalk cherry
chess chimney circle clock cloud clover coast cobra cocoa coconut coffee comet compass copper coral cotton
cousin crane crayon cricket crown cup curtain daisy dancer delta desert diamond dinner dolphin donkey door
dragon drum eagle easel echo elbow elephant ember engine falcon feather fence fern ferry fiddle field finch
flame flute forest fossil fox frog garden garlic gecko giant ginger giraffe glacier glove goose grape gravel
guitar hammer harbor harp hawk hazel helmet heron hill honey horizon horse igloo island ivory jacket jaguar
jelly jewel jigsaw juice kayak kettle kitten koala ladder lagoon lake lamp lantern lemon lentil lily lion lizard
llama lobster locket lotus magnet mango maple marble meadow melon mirror mitten monkey moon moose mosaic moth
mountain muffin mushroom needle nest noodle nutmeg oak oasis ocean olive onion orange orbit otter owl paddle
panda paper parrot peach peanut pebble pelican pencil pepper piano pickle pillow pilot pine planet plum pocket
pony poppy potato pretzel puffin pumpkin puzzle quail quilt rabbit radish raft rainbow raven ribbon river robin
rocket rose ruby saddle salmon sandal satchel scarf seal seashell shadow sheep shovel silver sketch sled slipper
snail spider spoon squirrel stamp star stone sugar sunset swan table teapot tiger toast tomato tractor trumpet
tulip tunnel turtle umbrella valley velvet violin volcano wagon walnut walrus water whale whistle willow window
wizard wolf yogurt zebra zipper
    """.split()
)
PASSPHRASE_WORDS = 4


def fresh_passphrase(words: int = PASSPHRASE_WORDS) -> str:
    return " ".join(secrets.choice(WORDS) for _ in range(words))


def passphrase_as_typed(typed: str) -> str:
    """What a participant typed for a generated passphrase, compared as the words alone: case, and spaces,
    hyphens or dots between the words, do not matter (read off a projector, "Horse  Willow muffin-agent" is
    "horse willow muffin agent")."""
    return " ".join(word for word in re.split(r"[\s\-_.,]+", typed.casefold()) if word)
