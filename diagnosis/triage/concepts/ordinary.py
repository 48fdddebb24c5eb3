"""Ordinary complaints (ESI 3-5), said the way the high-risk descriptions are said.

The meaning-based match fires a high-risk concept only when a part of the note reads more
like that concept's descriptions than like any of these, by a margin: "chest wall bruise
from football" is nearer the first than "crushing chest pressure".
"""

from __future__ import annotations

ORDINARY_DESCRIPTIONS: tuple[str, ...] = (
    "twisted ankle playing football, swollen, can walk on it",
    "sore throat and runny nose for three days",
    "burning when passing urine, going often",
    "needs a repeat prescription, ran out of tablets",
    "small cut on finger from a kitchen knife, bleeding stopped",
    "itchy rash on the arms after a new soap",
    "earache since yesterday, mild fever, eating and drinking",
    "low back pain after lifting boxes, walking normally",
    "diarrhoea since yesterday, drinking well, no blood",
    "toothache for two days",
    "minor burn on the hand from the oven",
    "insect bite on the leg, red and itchy",
    "constipated for four days, tummy a bit uncomfortable",
    "red sticky eye with discharge",
    "chest wall pain when pressing on it, after a fall in football",
    "pain in the ribs when coughing, cold for a week",
    "mild headache after a long day, usual for her",
    "pins and needles in both hands after gardening",
    "history of heart attack years ago, here for an ingrown toenail",
    "had a stroke years ago, here for a wound check",
    "period pain as usual, pregnancy test negative",
    "nosebleed that has stopped",
    "blood on the toilet paper, known piles",
    "feels anxious and stressed about work, no thoughts of self harm",
    "cough and cold, breathing comfortably",
    "wrist sore after falling on outstretched hand, no deformity",
    "feeling tired and run down for weeks",
    "dizzy when standing up quickly, fine now",
    "knee pain and swelling after a twist",
    "sick note needed, back to work tomorrow",
    "rash after antibiotics, no swelling of lips or tongue, breathing fine",
    "sugar a bit high, feels well, forgot tablets",
    "vomited twice, now keeping fluids down",
    "grazed knee after falling off a bike",
    "splinter in the finger",
    "sunburn on the shoulders",
    "dressing change for a healing wound",
    "stiff neck after sleeping awkwardly, no fever",
    "mild stomach ache after a big meal",
    "wants a check-up, no complaints",
    # A usual dose of an everyday medicine taken before coming (the fifty-third vignette
    # set: "No fever now, took Paracetamol" read like an overdose).
    "took paracetamol at home for the pain",
    "had two paracetamol this morning, helped a bit",
    "gave Calpol two hours ago for the fever",
    "took ibuprofen, pain a little better",
)
