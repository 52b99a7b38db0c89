"""Trust: the personal-data guard, pseudonyms and the keys behind pseudonyms and signatures."""
