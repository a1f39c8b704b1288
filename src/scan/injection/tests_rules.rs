//! Rule-level tests of stage 3 (one per PI/UNI rule: the table's true positive and "not a finding").
