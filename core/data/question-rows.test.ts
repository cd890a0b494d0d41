import { describe, expect, it } from 'vitest';
import { parseSlakeQuestions } from './slake.js';
import { parseVqaRadQuestions } from './vqa-rad.js';

describe('dataset question rows', () => {
  it('SLAKE rows without qid are named by row number, in ids and in errors', () => {
    const row = { img_name: 'xmlab1/source.jpg', answer_type: 'closed', q_lang: 'en' };
    const { questions, errors, skipped } = parseSlakeQuestions([
      { ...row, question: ' Is this a CT? ', answer: true, location: ' chest ', modality: 'ct' },
      { ...row, question: '', answer: 'yes' },
      { ...row, question: 'Which organ?', answer: 'lung', q_lang: 'zh' },
      { ...row, question: 'Which organ?', answer: 'lung', location: '  ' },
    ]);
    expect(questions).toEqual([
      {
        qid: 'row 0',
        imageName: 'xmlab1/source.jpg',
        question: 'Is this a CT?',
        answer: 'true',
        answerType: 'closed',
        organ: 'CHEST',
        modality: 'CT',
      },
      {
        qid: 'row 3',
        imageName: 'xmlab1/source.jpg',
        question: 'Which organ?',
        answer: 'lung',
        answerType: 'closed',
      },
    ]);
    expect(errors).toEqual([{ item: 'row 1', message: 'empty question' }]);
    expect(skipped).toEqual({ "question language 'zh' (only English is imported)": 1 });
  });

  it('VQA-RAD rows keep their qid and organ, and a schema failure names the row and field', () => {
    const { questions, errors } = parseVqaRadQuestions([
      {
        qid: 7,
        image_name: 'a.jpg',
        question: 'Is it normal?',
        answer: 'No',
        answer_type: 'CLOSED',
        image_organ: 'head',
      },
      { qid: 8, image_name: '', question: 'x', answer: 'y', answer_type: 'OPEN' },
      { qid: 9, image_name: 'b.jpg', question: 'x', answer: 'y', answer_type: 'MAYBE' },
    ]);
    expect(questions).toEqual([
      {
        qid: '7',
        imageName: 'a.jpg',
        question: 'Is it normal?',
        answer: 'No',
        answerType: 'closed',
        organ: 'HEAD',
      },
    ]);
    expect(errors.map((e) => e.item)).toEqual(['row 1', 'qid 9']);
    expect(errors[0]!.message).toMatch(/^image_name: /);
    expect(errors[1]!.message).toBe("answer_type must be CLOSED or OPEN (got 'MAYBE')");
    expect(() => parseVqaRadQuestions({ questions: [] })).toThrow(/expected a JSON array/);
  });
});
