"""How often does citation verification accept a passage that does NOT hold the sentence?

    .venv/bin/python benchmarks/calibrate_support.py

Negatives: a sentence of one SQuAD paragraph checked against the next paragraph of the same
article (same topic, different facts: the hardest realistic wrong citation). Positives: the
sentence with its first third dropped, against its own paragraph. Prints the share of each
that passes at several thresholds; Settings.support_threshold is chosen from it
(see docs/citations.md).
"""
import random, numpy as np
from pathlib import Path
from rag.evaluation.runs import load_squad
from rag.embedding.local import Embedder
from rag.answering.evidence import build_evidence
from rag.answering.citations import support
from rag.sentences import split_sentences
from rag.types import Hit
paras,_=load_squad(Path(__file__).resolve().parents[2].joinpath("shared/eval/squad2/dev-v2.0.json"))
ids=sorted(paras); rng=random.Random(1)
emb=Embedder.shared("all-MiniLM-L6-v2")
neg=[]; pos=[]
for _ in range(400):
    i=rng.randrange(len(ids)-1); a,b=ids[i],ids[i+1]
    if a[:3]!=b[:3]: continue
    sents=split_sentences(paras[a]); s=rng.choice(sents)
    if s in paras[b]: continue
    hb=Hit(1,"b",1,0,len(paras[b]),paras[b],1.0)
    neg.append(support(build_evidence(emb,s,[hb]),s)[0][0])
    # a weak "positive": the sentence with its first clause dropped / words reordered is still supported by a
    words=s.split(); 
    if len(words)>8:
        para=" ".join(words[len(words)//3:])
        ha=Hit(1,"a",1,0,len(paras[a]),paras[a],1.0)
        pos.append(support(build_evidence(emb,para,[ha]),para)[0][0])
neg=np.array(neg); pos=np.array(pos)
print(len(neg), "neg pcts", {p: round(float(np.percentile(neg,p)),3) for p in (50,90,95,98,99)})
print(len(pos), "pos pcts", {p: round(float(np.percentile(pos,p)),3) for p in (1,5,10,50)})
for t in (0.5,0.55,0.6,0.65,0.7): print(t, "neg pass", round(float((neg>=t).mean()),3), "pos pass", round(float((pos>=t).mean()),3))
