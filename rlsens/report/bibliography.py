"""References for the methods a report used; only those cited are written to references.bib."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reference:
    key: str
    short: str
    text: str
    bibtex: str


REFERENCES: dict[str, Reference] = {
    r.key: r
    for r in [
        Reference(
            "agarwal2021",
            "Agarwal et al., 2021",
            "R. Agarwal, M. Schwarzer, P. S. Castro, A. Courville, M. G. Bellemare. Deep "
            "Reinforcement Learning at the Edge of the Statistical Precipice. NeurIPS 2021.",
            """@inproceedings{agarwal2021,
  author    = {Agarwal, Rishabh and Schwarzer, Max and Castro, Pablo Samuel and Courville,
               Aaron and Bellemare, Marc G.},
  title     = {Deep Reinforcement Learning at the Edge of the Statistical Precipice},
  booktitle = {Advances in Neural Information Processing Systems},
  year      = {2021}
}""",
        ),
        Reference(
            "adkins2024",
            "Adkins et al., 2024",
            "J. Adkins, M. Bowling, A. White. A Method for Evaluating Hyperparameter Sensitivity "
            "in Reinforcement Learning. NeurIPS 2024.",
            """@inproceedings{adkins2024,
  author    = {Adkins, Jacob and Bowling, Michael and White, Adam},
  title     = {A Method for Evaluating Hyperparameter Sensitivity in Reinforcement Learning},
  booktitle = {Advances in Neural Information Processing Systems},
  year      = {2024}
}""",
        ),
        Reference(
            "probst2019",
            "Probst et al., 2019",
            "P. Probst, A.-L. Boulesteix, B. Bischl. Tunability: Importance of Hyperparameters "
            "of Machine Learning Algorithms. JMLR 20(53), 2019.",
            """@article{probst2019,
  author  = {Probst, Philipp and Boulesteix, Anne-Laure and Bischl, Bernd},
  title   = {Tunability: Importance of Hyperparameters of Machine Learning Algorithms},
  journal = {Journal of Machine Learning Research},
  volume  = {20},
  number  = {53},
  pages   = {1--32},
  year    = {2019}
}""",
        ),
        Reference(
            "hutter2014",
            "Hutter et al., 2014",
            "F. Hutter, H. Hoos, K. Leyton-Brown. An Efficient Approach for Assessing "
            "Hyperparameter Importance. ICML 2014.",
            """@inproceedings{hutter2014,
  author    = {Hutter, Frank and Hoos, Holger and Leyton-Brown, Kevin},
  title     = {An Efficient Approach for Assessing Hyperparameter Importance},
  booktitle = {Proceedings of the 31st International Conference on Machine Learning},
  pages     = {754--762},
  year      = {2014}
}""",
        ),
        Reference(
            "dodge2019",
            "Dodge et al., 2019",
            "J. Dodge, S. Gururangan, D. Card, R. Schwartz, N. A. Smith. Show Your Work: "
            "Improved Reporting of Experimental Results. EMNLP 2019.",
            """@inproceedings{dodge2019,
  author    = {Dodge, Jesse and Gururangan, Suchin and Card, Dallas and Schwartz, Roy and
               Smith, Noah A.},
  title     = {Show Your Work: Improved Reporting of Experimental Results},
  booktitle = {Proceedings of EMNLP-IJCNLP},
  pages     = {2185--2194},
  year      = {2019}
}""",
        ),
        Reference(
            "tang2020",
            "Tang et al., 2020",
            "Y. Tang et al. Showing Your Work Doesn't Always Work. ACL 2020 (unbiased expected "
            "maximum estimator).",
            """@inproceedings{tang2020,
  author    = {Tang, Raphael and Lee, Jaejun and Xin, Ji and Liu, Xinyu and Yu, Yaoliang and
               Lin, Jimmy},
  title     = {Showing Your Work Doesn't Always Work},
  booktitle = {Proceedings of the 58th Annual Meeting of the Association for Computational
               Linguistics},
  pages     = {2766--2772},
  year      = {2020}
}""",
        ),
        Reference(
            "henderson2018",
            "Henderson et al., 2018",
            "P. Henderson, R. Islam, P. Bachman, J. Pineau, D. Precup, D. Meger. Deep "
            "Reinforcement Learning that Matters. AAAI 2018.",
            """@inproceedings{henderson2018,
  author    = {Henderson, Peter and Islam, Riashat and Bachman, Philip and Pineau, Joelle and
               Precup, Doina and Meger, David},
  title     = {Deep Reinforcement Learning that Matters},
  booktitle = {Proceedings of the AAAI Conference on Artificial Intelligence},
  year      = {2018}
}""",
        ),
        Reference(
            "jordan2020",
            "Jordan et al., 2020",
            "S. M. Jordan, Y. Chandak, D. Cohen, M. Zhang, P. S. Thomas. Evaluating the "
            "Performance of Reinforcement Learning Algorithms. ICML 2020.",
            """@inproceedings{jordan2020,
  author    = {Jordan, Scott M. and Chandak, Yash and Cohen, Daniel and Zhang, Mengxue and
               Thomas, Philip S.},
  title     = {Evaluating the Performance of Reinforcement Learning Algorithms},
  booktitle = {Proceedings of the 37th International Conference on Machine Learning},
  year      = {2020}
}""",
        ),
        Reference(
            "welch1947",
            "Welch, 1947",
            "B. L. Welch. The Generalization of 'Student's' Problem when Several Different "
            "Population Variances are Involved. Biometrika 34, 1947.",
            """@article{welch1947,
  author  = {Welch, B. L.},
  title   = {The Generalization of `Student's' Problem when Several Different Population
               Variances are Involved},
  journal = {Biometrika},
  volume  = {34},
  number  = {1/2},
  pages   = {28--35},
  year    = {1947}
}""",
        ),
        Reference(
            "mann1947",
            "Mann & Whitney, 1947",
            "H. B. Mann, D. R. Whitney. On a Test of Whether one of Two Random Variables is "
            "Stochastically Larger than the Other. Ann. Math. Statist. 18, 1947.",
            """@article{mann1947,
  author  = {Mann, H. B. and Whitney, D. R.},
  title   = {On a Test of Whether one of Two Random Variables is Stochastically Larger than the
               Other},
  journal = {The Annals of Mathematical Statistics},
  volume  = {18},
  number  = {1},
  pages   = {50--60},
  year    = {1947}
}""",
        ),
        Reference(
            "holm1979",
            "Holm, 1979",
            "S. Holm. A Simple Sequentially Rejective Multiple Test Procedure. Scand. J. "
            "Statist. 6, 1979.",
            """@article{holm1979,
  author  = {Holm, Sture},
  title   = {A Simple Sequentially Rejective Multiple Test Procedure},
  journal = {Scandinavian Journal of Statistics},
  volume  = {6},
  number  = {2},
  pages   = {65--70},
  year    = {1979}
}""",
        ),
        Reference(
            "efron1987",
            "Efron, 1987",
            "B. Efron. Better Bootstrap Confidence Intervals. JASA 82(397), 1987.",
            """@article{efron1987,
  author  = {Efron, Bradley},
  title   = {Better Bootstrap Confidence Intervals},
  journal = {Journal of the American Statistical Association},
  volume  = {82},
  number  = {397},
  pages   = {171--185},
  year    = {1987}
}""",
        ),
        Reference(
            "wager2014",
            "Wager et al., 2014",
            "S. Wager, T. Hastie, B. Efron. Confidence Intervals for Random Forests: The "
            "Jackknife and the Infinitesimal Jackknife. JMLR 15(48), 2014.",
            """@article{wager2014,
  author  = {Wager, Stefan and Hastie, Trevor and Efron, Bradley},
  title   = {Confidence Intervals for Random Forests: The Jackknife and the Infinitesimal
             Jackknife},
  journal = {Journal of Machine Learning Research},
  volume  = {15},
  number  = {48},
  pages   = {1625--1651},
  year    = {2014}
}""",
        ),
        Reference(
            "breiman2001",
            "Breiman, 2001",
            "L. Breiman. Random Forests. Machine Learning 45, 2001.",
            """@article{breiman2001,
  author  = {Breiman, Leo},
  title   = {Random Forests},
  journal = {Machine Learning},
  volume  = {45},
  number  = {1},
  pages   = {5--32},
  year    = {2001}
}""",
        ),
    ]
}


class Citations:
    """The references a report cites, in order of first citation."""

    def __init__(self) -> None:
        self._keys: list[str] = []

    def cite(self, *keys: str) -> str:
        """Record ``keys`` as used and return the inline citation text, e.g. ``(Probst et al.,
               2019)``."""
        for key in keys:
            if key not in REFERENCES:
                raise KeyError(f"unknown reference {key!r}")
            if key not in self._keys:
                self._keys.append(key)
        return "(" + "; ".join(REFERENCES[k].short for k in keys) + ")"

    @property
    def used(self) -> list[Reference]:
        return [REFERENCES[k] for k in self._keys]

    def bibtex(self) -> str:
        return "\n\n".join(r.bibtex for r in self.used) + ("\n" if self._keys else "")
